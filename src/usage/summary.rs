//! A tenant's usage in one billing period against what its plan includes.
//!
//! The billing period is the UTC calendar month. What a plan includes of a
//! metric is the limit of the tenant's PERIODIC quota of period MONTH that
//! counts the metric (`usage_metric`), with any unexpired override. A
//! metric no such quota counts has no allowance: the plan says nothing
//! about it, so none of its use is overage (it is not "0 included"). The
//! used value is the metric's monthly value as QueryUsage with
//! MONTH granularity gives it, so the two never disagree.

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};

use crate::access::TenantScope;
use crate::error::Result;
use crate::quota::Limit;
use crate::quota::{Plan, QuotaKind, QuotaPeriod};
use crate::usage::ingest::Usage;
use crate::usage::metric::Metric;
use crate::usage::query::{Granularity, UsageQuery};

/// What a plan includes of a metric in a billing period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Allowance {
    /// No quota counts the metric: the plan includes no set amount, and
    /// nothing of it is overage.
    None,
    /// This much is included; use beyond it is overage.
    Limited(f64),
    /// Any amount is included.
    Unlimited,
}

/// The usage of one metric in a billing period.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSummary {
    /// The metric.
    pub metric: Metric,
    /// The quota that says what the plan includes, if one counts the metric.
    pub quota: Option<String>,
    /// What the plan includes.
    pub allowance: Allowance,
    /// The metric's value over the period so far.
    pub used: f64,
}

impl MetricSummary {
    /// What was used beyond what is included, never below 0; 0 without a
    /// limited allowance.
    pub fn overage(&self) -> f64 {
        match self.allowance {
            Allowance::Limited(included) => (self.used - included).max(0.0),
            Allowance::None | Allowance::Unlimited => 0.0,
        }
    }
}

/// A tenant's usage over one billing period.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageSummary {
    /// The first day of the period.
    pub period_start: NaiveDate,
    /// The last day of the period.
    pub period_end: NaiveDate,
    /// The tenant's plan.
    pub plan: Plan,
    /// One summary per metric, ordered by key.
    pub metrics: Vec<MetricSummary>,
    /// Events recorded before this time are included.
    pub aggregate_time: DateTime<Utc>,
}

/// The billing period (UTC calendar month) holding `day`.
pub fn billing_period(day: NaiveDate) -> (NaiveDate, NaiveDate) {
    let start = day.with_day(1).unwrap_or(day);
    let end = start
        .checked_add_months(Months::new(1))
        .and_then(|next| next.pred_opt())
        .unwrap_or(start);
    (start, end)
}

/// The monthly PERIODIC quota counting `metric`, if the plan has one; the
/// first in the plan's order when several do.
fn including_limit<'a>(limits: &'a [Limit], metric: &str) -> Option<&'a Limit> {
    limits.iter().find(|limit| {
        limit.definition.kind == QuotaKind::Periodic
            && limit.definition.period == Some(QuotaPeriod::Month)
            && limit.definition.usage_metric == metric
    })
}

impl Usage {
    /// Summarises the tenant's usage of `metrics` (every metric when empty)
    /// over the billing period holding `day` (today when `None`), against
    /// the tenant's `plan` and `limits`.
    pub async fn summary(
        &self,
        scope: &TenantScope,
        (plan, limits): (Plan, Vec<Limit>),
        day: Option<NaiveDate>,
        metrics: Vec<String>,
    ) -> Result<UsageSummary> {
        let (period_start, period_end) =
            billing_period(day.unwrap_or_else(|| Utc::now().date_naive()));
        let query = UsageQuery {
            metrics,
            start_day: period_start,
            end_day: period_end,
            granularity: Granularity::Month,
        };
        let answer = self.query(scope, &query).await?;
        let metrics = answer
            .series
            .into_iter()
            .map(|series| {
                let used = series.points.first().map_or(0.0, |point| point.value);
                let limit = including_limit(&limits, &series.metric.key);
                MetricSummary {
                    quota: limit.map(|found| found.definition.key.clone()),
                    allowance: match limit.map(|found| found.limit) {
                        Some(Some(value)) => Allowance::Limited(value as f64),
                        Some(None) => Allowance::Unlimited,
                        None => Allowance::None,
                    },
                    used,
                    metric: series.metric,
                }
            })
            .collect();
        Ok(UsageSummary {
            period_start,
            period_end,
            plan,
            metrics,
            aggregate_time: answer.aggregate_time,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("day")
    }

    #[test]
    fn periods_are_calendar_months() {
        assert_eq!(
            billing_period(day("2028-02-14")),
            (day("2028-02-01"), day("2028-02-29"))
        );
        assert_eq!(
            billing_period(day("2026-12-31")),
            (day("2026-12-01"), day("2026-12-31"))
        );
    }

    #[test]
    fn overage_is_what_exceeds_the_included_amount() {
        let metric = Metric {
            key: "m".to_owned(),
            spec: crate::usage::metric::MetricSpec {
                display_name: String::new(),
                description: String::new(),
                unit: "1".to_owned(),
                aggregation: crate::usage::metric::Aggregation::Sum,
                unique_dimension: String::new(),
            },
            stamps: crate::store::revision::Stamps::first(Utc::now()),
        };
        let mut summary = MetricSummary {
            metric,
            quota: None,
            allowance: Allowance::Limited(10.0),
            used: 12.5,
        };
        assert_eq!(summary.overage(), 2.5);
        summary.used = 3.0;
        assert_eq!(summary.overage(), 0.0);
        summary.used = 1e9;
        summary.allowance = Allowance::Unlimited;
        assert_eq!(summary.overage(), 0.0);
        summary.allowance = Allowance::None;
        assert_eq!(summary.overage(), 0.0, "no allowance is not 0 included");
    }
}
