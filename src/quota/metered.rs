//! PERIODIC quotas that count a usage metric: their usage is the metric's
//! value over the current UTC day or month, as UsageService aggregates it,
//! and a call checks its cost against that without adding to it (only
//! reported usage does).
//!
//! Invariants kept here: a metered quota never reaches the limiter, so
//! nothing is ever charged to it; in an ALL_OR_NOTHING call a metered
//! quota that does not fit turns the limiter's batch into a check, so the
//! other quotas of the call are not charged either. Usage is read as
//! rollups have it, so it trails reports by at most one aggregation pass.

use chrono::{DateTime, Datelike, Utc};

use crate::access::TenantScope;
use crate::error::{Error, Result};
use crate::quota::limit::Limit;
use crate::quota::limiter::{Action, Outcome};
use crate::quota::plan::QuotaPeriod;
use crate::usage::Usage;

/// Whether `limit` counts a usage metric.
pub fn is_metered(limit: &Limit) -> bool {
    !limit.definition.usage_metric.is_empty()
}

/// The days of the calendar `period` holding `now`, and when it ends.
fn period_days(
    period: QuotaPeriod,
    now: DateTime<Utc>,
) -> Option<((chrono::NaiveDate, chrono::NaiveDate), DateTime<Utc>)> {
    let (_, end) = period.calendar_period(now)?;
    let today = now.date_naive();
    let first = match period {
        QuotaPeriod::Month => today.with_day(1)?,
        _ => today,
    };
    Some(((first, end.date_naive().pred_opt()?), end))
}

/// The answer for a metered quota: `used` is the metric's value so far in
/// the period (rounded up to a whole unit), a charge or check of `cost`
/// fits when `used + cost` stays within the ceiling, and a release gives
/// nothing back.
pub async fn metered_outcome(
    usage: &Usage,
    scope: &TenantScope,
    limit: &Limit,
    action: Action,
    cost: i64,
    now: DateTime<Utc>,
) -> Result<Outcome> {
    let definition = &limit.definition;
    let period = definition.period.unwrap_or(QuotaPeriod::Month);
    let (days, end) = period_days(period, now).ok_or_else(|| {
        Error::internal(format!(
            "the metered quota {:?} has no calendar period",
            definition.key
        ))
    })?;
    let value = usage
        .period_total(scope, &definition.usage_metric, days)
        .await?;
    // Quantities may be fractional; counters are whole units.
    let used = value.ceil() as i64;
    let allowed = match (action, limit.ceiling()) {
        (Action::Release, _) | (_, None) => true,
        _ if definition.shadow => true,
        (_, Some(ceiling)) => used.saturating_add(cost) <= ceiling,
    };
    let reset_ms = end.timestamp_millis();
    Ok(Outcome {
        allowed,
        granted: 0,
        used,
        reset_ms: Some(reset_ms),
        retry_ms: (!allowed).then(|| (reset_ms - now.timestamp_millis()).max(0)),
        degraded: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_cover_the_day_or_the_month_holding_now() {
        let now = DateTime::parse_from_rfc3339("2028-02-14T10:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let ((first, last), end) = period_days(QuotaPeriod::Month, now).expect("month");
        assert_eq!(
            (first.to_string(), last.to_string()),
            ("2028-02-01".into(), "2028-02-29".into())
        );
        assert_eq!(end.to_rfc3339(), "2028-03-01T00:00:00+00:00");
        let ((first, last), _) = period_days(QuotaPeriod::Day, now).expect("day");
        assert_eq!(
            (first.to_string(), last.to_string()),
            ("2028-02-14".into(), "2028-02-14".into())
        );
        assert!(period_days(QuotaPeriod::Second, now).is_none());
    }
}
