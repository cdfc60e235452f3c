//! Reading usage: one tenant's metrics over a range of days, per day or
//! per month, from the daily rollups.
//!
//! Months are built from days: SUM and COUNT add the days, MAX takes the
//! largest, LATEST takes its last day with events, and UNIQUE_COUNT counts
//! distinct values over the whole month from the recorded events (a sum of
//! days would count a user active on two days twice).

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};

use crate::access::TenantScope;
use crate::error::{Error, Result};
use crate::store::scope::Scope;
use crate::usage::delta::saturating_sum;
use crate::usage::ingest::Usage;
use crate::usage::metric::{Aggregation, Metric};
use crate::usage::metrics::Metrics;

/// Most days of a DAY query, after its first.
pub const MAX_DAY_SPAN: i64 = 366;
/// Most months of a MONTH query, after its first day.
pub const MAX_MONTH_SPAN: u32 = 120;

/// The size of the periods usage is read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    /// One point per UTC day.
    Day,
    /// One point per UTC calendar month.
    Month,
}

/// A validated query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageQuery {
    /// Metric keys; every metric when empty.
    pub metrics: Vec<String>,
    /// The first day.
    pub start_day: NaiveDate,
    /// The last day, included.
    pub end_day: NaiveDate,
    /// Per day or per month.
    pub granularity: Granularity,
}

/// One stored daily rollup, as queries read it.
#[derive(Debug, Clone, PartialEq)]
pub struct DailyRollup {
    /// The metric key.
    pub metric: String,
    /// The UTC day.
    pub day: NaiveDate,
    /// The aggregated value.
    pub value: f64,
    /// The number of events.
    pub event_count: i64,
}

/// The value of a metric over one period.
#[derive(Debug, Clone, PartialEq)]
pub struct UsagePoint {
    /// The first day of the period (within the range).
    pub start_day: NaiveDate,
    /// The last day of the period (within the range).
    pub end_day: NaiveDate,
    /// The aggregated value.
    pub value: f64,
    /// The number of events.
    pub event_count: i64,
    /// No event can change the value any more.
    pub closed: bool,
}

/// One metric's points.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageSeries {
    /// The metric.
    pub metric: Metric,
    /// Periods with events, in time order.
    pub points: Vec<UsagePoint>,
}

/// The answer to a query.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageAnswer {
    /// One series per metric, ordered by key.
    pub series: Vec<UsageSeries>,
    /// Events committed before this time are included.
    pub aggregate_time: DateTime<Utc>,
}

/// Checks the range of a query: `end_day` not before `start_day`, and not
/// further than the granularity allows.
pub fn check_range(start: NaiveDate, end: NaiveDate, granularity: Granularity) -> Result<()> {
    if end < start {
        return Err(Error::invalid_field(
            "end_day",
            "must not be before start_day",
        ));
    }
    let too_long = match granularity {
        Granularity::Day => (end - start).num_days() > MAX_DAY_SPAN,
        Granularity::Month => start
            .checked_add_months(Months::new(MAX_MONTH_SPAN))
            .is_none_or(|limit| end > limit),
    };
    if too_long {
        return Err(Error::invalid_field(
            "end_day",
            format!(
                "must be at most {MAX_DAY_SPAN} days after start_day for DAY, {} years for MONTH",
                MAX_MONTH_SPAN / 12
            ),
        ));
    }
    Ok(())
}

/// The first day of `day`'s month.
fn month_start(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// Folds one metric's daily rollups (ordered by day) into monthly points;
/// `distinct` gives UNIQUE_COUNT's value of a month by its first day.
fn months(
    aggregation: Aggregation,
    days: &[&DailyRollup],
    range: (NaiveDate, NaiveDate),
    distinct: impl Fn(NaiveDate) -> f64,
) -> Vec<(NaiveDate, NaiveDate, f64, i64)> {
    let mut points: Vec<(NaiveDate, NaiveDate, f64, i64)> = Vec::new();
    for rollup in days {
        let month = month_start(rollup.day);
        match points.last_mut() {
            Some(point) if point.0 == month.max(range.0) => {
                point.2 = match aggregation {
                    Aggregation::Sum | Aggregation::Count => saturating_sum(point.2, rollup.value),
                    Aggregation::Max => point.2.max(rollup.value),
                    Aggregation::Latest => rollup.value,
                    Aggregation::UniqueCount => point.2,
                };
                point.3 = point.3.saturating_add(rollup.event_count);
            }
            _ => {
                let last = month
                    .checked_add_months(Months::new(1))
                    .and_then(|next| next.pred_opt())
                    .unwrap_or(month);
                let value = match aggregation {
                    Aggregation::UniqueCount => distinct(month),
                    _ => rollup.value,
                };
                let period = (month.max(range.0), last.min(range.1));
                points.push((period.0, period.1, value, rollup.event_count));
            }
        }
    }
    points
}

/// The metrics named by `keys`, in their order (each must exist, else
/// NOT_FOUND), or the whole `catalogue` when `keys` is empty: what queries
/// and exports read.
pub(crate) async fn named_metrics(catalogue: &Metrics, keys: &[String]) -> Result<Vec<Metric>> {
    if keys.is_empty() {
        return catalogue.all().await;
    }
    let mut found = Vec::with_capacity(keys.len());
    for key in keys {
        found.push(catalogue.get(key).await?);
    }
    Ok(found)
}

impl Usage {
    /// The value of `metric` over `days` for the tenant of `scope`, as
    /// one MONTH point of QueryUsage would give it (0 without events).
    pub async fn period_total(
        &self,
        scope: &TenantScope,
        metric: &str,
        days: (NaiveDate, NaiveDate),
    ) -> Result<f64> {
        let query = UsageQuery {
            metrics: vec![metric.to_owned()],
            start_day: days.0,
            end_day: days.1,
            granularity: Granularity::Month,
        };
        let answer = self.query(scope, &query).await?;
        Ok(answer
            .series
            .iter()
            .flat_map(|series| series.points.first())
            .map(|point| point.value)
            .sum())
    }

    /// The metrics `query` names (every metric when none), each once,
    /// ordered by key; an unknown one is NOT_FOUND.
    async fn queried_metrics(&self, query: &UsageQuery) -> Result<Vec<Metric>> {
        let mut found = named_metrics(&self.metrics, &query.metrics).await?;
        found.sort_by(|left, right| left.key.cmp(&right.key));
        found.dedup_by(|left, right| left.key == right.key);
        Ok(found)
    }

    /// Reads `query` for the tenant of `scope`.
    pub async fn query(&self, scope: &TenantScope, query: &UsageQuery) -> Result<UsageAnswer> {
        let aggregate_time = Utc::now();
        let metrics = self.queried_metrics(query).await?;
        let keys: Vec<&str> = metrics.iter().map(|metric| metric.key.as_str()).collect();
        let range = (query.start_day, query.end_day);
        let rollups = self
            .store
            .daily_rollups(Scope::from(scope), scope.tenant_id(), &keys, range)
            .await?;
        let unique: Vec<&str> = metrics
            .iter()
            .filter(|metric| metric.spec.aggregation == Aggregation::UniqueCount)
            .map(|metric| metric.key.as_str())
            .collect();
        let distinct = if query.granularity == Granularity::Month && !unique.is_empty() {
            self.store
                .distinct_by_month(Scope::from(scope), scope.tenant_id(), &unique, range)
                .await?
        } else {
            Vec::new()
        };
        let series = metrics
            .into_iter()
            .map(|metric| {
                let days: Vec<&DailyRollup> = rollups
                    .iter()
                    .filter(|rollup| rollup.metric == metric.key)
                    .collect();
                let periods = match query.granularity {
                    Granularity::Day => days
                        .iter()
                        .map(|rollup| (rollup.day, rollup.day, rollup.value, rollup.event_count))
                        .collect(),
                    Granularity::Month => months(metric.spec.aggregation, &days, range, |month| {
                        distinct
                            .iter()
                            .find(|(key, first, _)| *key == metric.key && *first == month)
                            .map_or(0.0, |(_, _, count)| *count as f64)
                    }),
                };
                let points = periods
                    .into_iter()
                    .map(|(start_day, end_day, value, event_count)| UsagePoint {
                        start_day,
                        end_day,
                        value,
                        event_count,
                        closed: self.settings.is_closed(end_day, aggregate_time),
                    })
                    .collect();
                UsageSeries { metric, points }
            })
            .collect();
        Ok(UsageAnswer {
            series,
            aggregate_time,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("day")
    }

    fn rollup(on: &str, value: f64) -> DailyRollup {
        DailyRollup {
            metric: "m".to_owned(),
            day: day(on),
            value,
            event_count: 1,
        }
    }

    #[test]
    fn months_fold_days_by_aggregation_within_the_range() {
        let rollups = [
            rollup("2026-01-20", 2.0),
            rollup("2026-01-31", 5.0),
            rollup("2026-02-01", 1.0),
        ];
        let days: Vec<&DailyRollup> = rollups.iter().collect();
        let range = (day("2026-01-15"), day("2026-02-10"));
        let sum = months(Aggregation::Sum, &days, range, |_| 0.0);
        assert_eq!(
            sum,
            [
                (day("2026-01-15"), day("2026-01-31"), 7.0, 2),
                (day("2026-02-01"), day("2026-02-10"), 1.0, 1),
            ]
        );
        let latest = months(Aggregation::Latest, &days, range, |_| 0.0);
        assert_eq!(latest[0].2, 5.0);
        let max = months(Aggregation::Max, &days, range, |_| 0.0);
        assert_eq!(max[0].2, 5.0);
        let unique = months(Aggregation::UniqueCount, &days, range, |_| 9.0);
        assert_eq!(unique[0].2, 9.0);
    }

    #[test]
    fn ranges_are_bounded_by_granularity() {
        assert!(check_range(day("2026-01-01"), day("2027-01-02"), Granularity::Day).is_ok());
        assert!(check_range(day("2026-01-01"), day("2027-01-03"), Granularity::Day).is_err());
        assert!(check_range(day("2026-01-01"), day("2035-12-31"), Granularity::Month).is_ok());
        assert!(check_range(day("2026-01-02"), day("2026-01-01"), Granularity::Day).is_err());
    }
}
