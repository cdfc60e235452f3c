//! Plans and the quota definitions they carry: types, validation, and the
//! periods quotas count over.
//!
//! Invariants kept here: a [`Plan`] that passed [`validate_plan`] has a
//! valid id, at most [`MAX_QUOTAS`] definitions with unique keys, and every
//! definition's period matches its kind (SECOND/MINUTE/HOUR for RATE,
//! DAY/MONTH for PERIODIC, none for ALLOCATION), and limits and bursts of
//! at most [`MAX_AMOUNT`]. Definitions are stored as
//! JSON in the `plans` table in exactly the serde form of this module.

use std::collections::HashSet;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{FieldViolation, Result, Violations};
use crate::quota::limiter::bounds::MAX_AMOUNT;
use crate::quota::objectives::ServiceObjectives;
use crate::store::revision::{Revisioned, Stamps, etag_of, revisioned, serde_snapshot};
use crate::tenancy::IsolationModel;

/// Most quota definitions in one plan.
pub const MAX_QUOTAS: usize = 100;
/// Most soft thresholds on one quota.
pub const MAX_THRESHOLDS: usize = 10;

/// The kind of a quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaKind {
    /// At most `limit` per second, minute or hour.
    Rate,
    /// At most `limit` per UTC day or month.
    Periodic,
    /// A gauge raised by allocations and lowered by releases.
    Allocation,
}

/// The period of a RATE or PERIODIC quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaPeriod {
    /// One second (RATE).
    Second,
    /// One minute (RATE).
    Minute,
    /// One hour (RATE).
    Hour,
    /// One UTC day (PERIODIC).
    Day,
    /// One UTC calendar month (PERIODIC).
    Month,
}

impl QuotaPeriod {
    /// The length of a RATE period in milliseconds; `None` for calendar
    /// periods.
    pub fn rate_millis(self) -> Option<i64> {
        match self {
            QuotaPeriod::Second => Some(1_000),
            QuotaPeriod::Minute => Some(60_000),
            QuotaPeriod::Hour => Some(3_600_000),
            QuotaPeriod::Day | QuotaPeriod::Month => None,
        }
    }

    /// The word used in descriptions: `second`, `day`…
    pub fn as_str(self) -> &'static str {
        match self {
            QuotaPeriod::Second => "second",
            QuotaPeriod::Minute => "minute",
            QuotaPeriod::Hour => "hour",
            QuotaPeriod::Day => "day",
            QuotaPeriod::Month => "month",
        }
    }

    /// For a calendar period: an id of the period containing `at` (e.g.
    /// `d20261122`, `m202611`) and the instant it ends, in UTC.
    pub fn calendar_period(self, at: DateTime<Utc>) -> Option<(String, DateTime<Utc>)> {
        let date = at.date_naive();
        let (id, next) = match self {
            QuotaPeriod::Day => (format!("d{}", date.format("%Y%m%d")), date.succ_opt()?),
            QuotaPeriod::Month => {
                let (year, month) = if date.month() == 12 {
                    (date.year() + 1, 1)
                } else {
                    (date.year(), date.month() + 1)
                };
                (
                    format!("m{}", date.format("%Y%m")),
                    NaiveDate::from_ymd_opt(year, month, 1)?,
                )
            }
            _ => return None,
        };
        Some((id, Utc.from_utc_datetime(&next.and_hms_opt(0, 0, 0)?)))
    }
}

/// How a RATE quota counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RateAlgorithm {
    /// A bucket of `burst` tokens refilled at `limit` per period.
    #[default]
    TokenBucket,
    /// At most `limit` over any window of one period ending now.
    SlidingWindow,
}

/// The definition of one quota within a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaDefinition {
    /// The quota key, unique within the plan.
    pub key: String,
    /// A human-readable name.
    #[serde(default)]
    pub display_name: String,
    /// The kind.
    pub kind: QuotaKind,
    /// The limit; ignored when `unlimited`.
    #[serde(default)]
    pub limit: i64,
    /// No limit.
    #[serde(default)]
    pub unlimited: bool,
    /// The period of RATE and PERIODIC quotas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<QuotaPeriod>,
    /// RATE only: how charges are counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<RateAlgorithm>,
    /// RATE with token bucket only: the bucket size; `limit` when 0.
    #[serde(default)]
    pub burst: i64,
    /// PERIODIC only: the usage metric counted instead of charges.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub usage_metric: String,
    /// Soft thresholds in percent of the limit, ascending.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warning_threshold_percents: Vec<i32>,
    /// Allowance above the limit, in percent of it.
    #[serde(default)]
    pub grace_percent: i32,
    /// Counted and reported, never refusing.
    #[serde(default)]
    pub shadow: bool,
}

impl QuotaDefinition {
    /// The bucket size of a token-bucket RATE quota with limit `limit`.
    pub fn burst_for(&self, limit: i64) -> i64 {
        if self.burst > 0 {
            self.burst.max(limit)
        } else {
            limit
        }
    }

    /// The algorithm of a RATE quota, token bucket when unset.
    pub fn rate_algorithm(&self) -> RateAlgorithm {
        self.algorithm.unwrap_or_default()
    }
}

/// A plan: a named set of quotas.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The id, e.g. `starter`.
    pub id: String,
    /// A human-readable name.
    pub display_name: String,
    /// What the plan is for.
    pub description: String,
    /// The quota definitions, in order.
    pub quotas: Vec<QuotaDefinition>,
    /// What its new tenants get unless their creator asks otherwise.
    pub default_isolation: IsolationModel,
    /// What its tenants' calls should achieve, if it says.
    pub objectives: Option<ServiceObjectives>,
    /// Its revision and times; the etag is derived from the revision.
    #[serde(flatten)]
    pub stamps: Stamps,
}

impl Plan {
    /// The definition of quota `key`, if the plan has one.
    pub fn quota(&self, key: &str) -> Option<&QuotaDefinition> {
        self.quotas.iter().find(|quota| quota.key == key)
    }

    /// `plans/{id}`.
    pub fn resource_name(&self) -> String {
        format!("plans/{}", self.id)
    }

    /// The opaque etag of this revision.
    pub fn etag(&self) -> String {
        etag_of(&[self.id.as_bytes(), &self.stamps.revision.to_be_bytes()])
    }
}

revisioned!(Plan, "plan", "plans", serde_snapshot);

/// Parses `plans/{id}` into the id.
pub fn parse_plan_name(name: &str, field: &str) -> Result<String> {
    Plan::parse_key(name, field, crate::common::validate::plan)
}

/// Validates the id of a new plan: 2 to 63 lowercase letters, digits and
/// hyphens, starting with a letter.
pub fn validate_plan_id(id: &str, field: &str, violations: &mut Vec<FieldViolation>) {
    let valid = (2..=63).contains(&id.len())
        && id.as_bytes()[0].is_ascii_lowercase()
        && id
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-');
    if !valid {
        violations.refuse(
            field,
            "must be 2 to 63 lowercase letters, digits or '-', starting with a letter",
        );
    }
}

/// Whether `key` is a valid quota key: 1 to 63 of `[a-z0-9_.]`, starting
/// with a letter. Quota keys appear in Redis keys, so no `{`, `}` or `:`.
pub fn is_quota_key(key: &str) -> bool {
    (1..=63).contains(&key.len())
        && key.as_bytes()[0].is_ascii_lowercase()
        && key.bytes().all(|byte| {
            byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_' || byte == b'.'
        })
}

/// Validates the text fields of a plan.
pub fn validate_plan_text(
    display_name: &str,
    description: &str,
    field: &str,
    violations: &mut Vec<FieldViolation>,
) {
    if display_name.trim().is_empty() || display_name.chars().count() > 200 {
        violations.refuse(
            format!("{field}.display_name"),
            "must be 1 to 200 characters",
        );
    }
    if description.chars().count() > 1000 {
        violations.refuse(
            format!("{field}.description"),
            "must be at most 1000 characters",
        );
    }
}

/// Validates a plan's quota definitions (`field` is e.g. `plan.quotas`).
pub fn validate_quotas(
    quotas: &[QuotaDefinition],
    field: &str,
    violations: &mut Vec<FieldViolation>,
) {
    if quotas.len() > MAX_QUOTAS {
        violations.refuse(field, format!("must hold at most {MAX_QUOTAS} quotas"));
    }
    let mut seen = HashSet::new();
    for (index, quota) in quotas.iter().enumerate() {
        let path = format!("{field}[{index}]");
        if !is_quota_key(&quota.key) {
            violations.refuse(
                format!("{path}.key"),
                "must be 1 to 63 lowercase letters, digits, '_' or '.', starting with a letter",
            );
        } else if !seen.insert(quota.key.as_str()) {
            violations.refuse(
                format!("{path}.key"),
                format!("{:?} is defined twice", quota.key),
            );
        }
        validate_definition(quota, &path, violations);
    }
}

/// Validates one definition apart from its key.
fn validate_definition(quota: &QuotaDefinition, path: &str, violations: &mut Vec<FieldViolation>) {
    let mut violation = |name: &str, text: &str| {
        violations.refuse(format!("{path}.{name}"), text);
    };
    if quota.display_name.chars().count() > 200 {
        violation("display_name", "must be at most 200 characters");
    }
    if !(0..=MAX_AMOUNT).contains(&quota.limit) {
        violation("limit", &format!("must be 0 to {MAX_AMOUNT}"));
    }
    if quota.burst > MAX_AMOUNT {
        violation("burst", &format!("must be at most {MAX_AMOUNT}"));
    }
    let period_fits = match (quota.kind, quota.period) {
        (QuotaKind::Rate, Some(period)) => period.rate_millis().is_some(),
        (QuotaKind::Periodic, Some(period)) => period.rate_millis().is_none(),
        (QuotaKind::Allocation, None) => true,
        _ => false,
    };
    if !period_fits {
        violation(
            "period",
            "must be SECOND, MINUTE or HOUR for RATE, DAY or MONTH for PERIODIC, unset for ALLOCATION",
        );
    }
    if quota.kind != QuotaKind::Rate && quota.algorithm.is_some() {
        violation("algorithm", "applies to RATE quotas only");
    }
    let token_bucket =
        quota.kind == QuotaKind::Rate && quota.rate_algorithm() == RateAlgorithm::TokenBucket;
    if quota.burst != 0 && (!token_bucket || quota.burst < quota.limit) {
        violation(
            "burst",
            "applies to token-bucket RATE quotas only, and is at least the limit",
        );
    }
    if !quota.usage_metric.is_empty()
        && (quota.kind != QuotaKind::Periodic || !is_quota_key(&quota.usage_metric))
    {
        violation(
            "usage_metric",
            "applies to PERIODIC quotas only, and is the key of a metric",
        );
    }
    if !thresholds_valid(&quota.warning_threshold_percents) {
        violation(
            "warning_threshold_percents",
            "must be at most 10 ascending percents from 1 to 100",
        );
    }
    if !(0..=100).contains(&quota.grace_percent) {
        violation("grace_percent", "must be 0 to 100");
    }
}

/// At most [`MAX_THRESHOLDS`] percents from 1 to 100, ascending.
fn thresholds_valid(thresholds: &[i32]) -> bool {
    thresholds.len() <= MAX_THRESHOLDS
        && thresholds.windows(2).all(|pair| pair[0] < pair[1])
        && thresholds.iter().all(|percent| (1..=100).contains(percent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_periods_end_on_utc_boundaries() {
        let at = Utc.with_ymd_and_hms(2026, 12, 31, 23, 59, 59).unwrap();
        let (day, day_end) = QuotaPeriod::Day.calendar_period(at).unwrap();
        assert_eq!(day, "d20261231");
        assert_eq!(day_end, Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap());
        let (month, month_end) = QuotaPeriod::Month.calendar_period(at).unwrap();
        assert_eq!(month, "m202612");
        assert_eq!(
            month_end,
            Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap()
        );
        assert!(QuotaPeriod::Second.calendar_period(at).is_none());
    }

    #[test]
    fn quota_keys_cannot_break_out_of_a_redis_key() {
        assert!(is_quota_key("api_requests.v2"));
        assert!(!is_quota_key("a}b"));
        assert!(!is_quota_key("a:b"));
        assert!(!is_quota_key("1abc"));
    }
}
