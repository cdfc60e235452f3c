//! The rollup deltas that recorded events add to their days: one per
//! (metric, day) of a tenant's events, merged by `storage` into
//! `usage_rollups`.
//!
//! Invariants kept here: sums saturate at [`ROLLUP_VALUE_CEILING`] and
//! counts at `i64::MAX`, so no delta is ever non-finite (quantities are
//! bounded by [`crate::usage::event::MAX_QUANTITY`] besides).

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::usage::event::ValidEvent;
use crate::usage::metric::Aggregation;

/// Where a rollup's value saturates: far beyond any real day (at
/// [`MAX_QUANTITY`] per event it takes 10^282 events), and low enough that
/// a month of such days still sums to a finite `f64`.
pub const ROLLUP_VALUE_CEILING: f64 = 1e300;

/// What recorded events add to one (tenant, metric, day) rollup.
#[derive(Debug, Clone, PartialEq)]
pub struct RollupDelta {
    /// The metric key.
    pub metric: String,
    /// The metric's aggregation, which decides how the delta merges.
    pub aggregation: Aggregation,
    /// The UTC day.
    pub day: NaiveDate,
    /// The delta's value: a sum, a count, a maximum, or the latest
    /// quantity; unused for UNIQUE_COUNT, which is recounted from events.
    pub value: f64,
    /// The number of events.
    pub event_count: i64,
    /// The latest `occurred_time`, in microseconds since the epoch.
    pub latest_micros: i64,
    /// The greatest `event_id` at `latest_micros`.
    pub latest_event_id: String,
}

/// Whether (`micros`, `event_id`) is later than the delta's latest event:
/// LATEST's order, ties broken by the greatest `event_id`.
fn is_later(delta: &RollupDelta, micros: i64, event_id: &str) -> bool {
    (micros, event_id) > (delta.latest_micros, delta.latest_event_id.as_str())
}

/// The deltas of one tenant's recorded `events`, one per (metric, day),
/// ordered by metric then day (the order rows are locked in, so concurrent
/// writers cannot deadlock).
pub fn rollup_deltas<'a>(events: impl IntoIterator<Item = &'a ValidEvent>) -> Vec<RollupDelta> {
    let mut deltas: BTreeMap<(&str, NaiveDate), RollupDelta> = BTreeMap::new();
    for event in events {
        let micros = event.occurred_time.timestamp_micros();
        let delta = deltas
            .entry((event.metric.as_str(), event.day))
            .or_insert_with(|| RollupDelta {
                metric: event.metric.clone(),
                aggregation: event.aggregation,
                day: event.day,
                value: 0.0,
                event_count: 0,
                latest_micros: i64::MIN,
                latest_event_id: String::new(),
            });
        let later = is_later(delta, micros, &event.event_id);
        delta.value = match event.aggregation {
            Aggregation::Sum => saturating_sum(delta.value, event.quantity),
            Aggregation::Count => saturating_sum(delta.value, 1.0),
            Aggregation::Max if delta.event_count == 0 => event.quantity,
            Aggregation::Max => delta.value.max(event.quantity),
            Aggregation::Latest if later => event.quantity,
            Aggregation::Latest | Aggregation::UniqueCount => delta.value,
        };
        if later {
            delta.latest_micros = micros;
            delta.latest_event_id = event.event_id.clone();
        }
        delta.event_count = delta.event_count.saturating_add(1);
    }
    deltas.into_values().collect()
}

/// `left + right`, at most [`ROLLUP_VALUE_CEILING`]: the sum SUM and COUNT
/// rollups use, in memory as in SQL (`rollup_statements.rs`).
pub fn saturating_sum(left: f64, right: f64) -> f64 {
    (left + right).min(ROLLUP_VALUE_CEILING)
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::common::ids::TenantId;

    fn event(
        id: &str,
        metric: &str,
        aggregation: Aggregation,
        quantity: f64,
        at: &str,
    ) -> ValidEvent {
        let occurred_time = DateTime::parse_from_rfc3339(at)
            .expect("time")
            .with_timezone(&Utc);
        ValidEvent {
            tenant_id: TenantId::from_uuid(uuid::Uuid::nil()),
            event_id: id.to_owned(),
            metric: metric.to_owned(),
            aggregation,
            quantity,
            occurred_time,
            day: occurred_time.date_naive(),
            dimensions: BTreeMap::new(),
            unique_value: None,
        }
    }

    #[test]
    fn deltas_aggregate_per_metric_and_day() {
        use Aggregation::{Count, Latest, Max, Sum};
        let events = [
            event("a", "bytes", Sum, 2.0, "2026-03-01T10:00:00Z"),
            event("b", "bytes", Sum, 3.5, "2026-03-01T23:59:59Z"),
            event("c", "bytes", Sum, 1.0, "2026-03-02T00:00:00Z"),
            event("d", "calls", Count, 9.0, "2026-03-01T01:00:00Z"),
            event("e", "peak", Max, 4.0, "2026-03-01T01:00:00Z"),
            event("f", "peak", Max, 7.0, "2026-03-01T00:00:00Z"),
            event("h", "held", Latest, 5.0, "2026-03-01T05:00:00Z"),
            event("g", "held", Latest, 6.0, "2026-03-01T05:00:00Z"),
            event("i", "held", Latest, 1.0, "2026-03-01T04:00:00Z"),
        ];
        let deltas = rollup_deltas(&events);
        let found: Vec<(&str, String, f64, i64)> = deltas
            .iter()
            .map(|delta| {
                let day = delta.day.to_string();
                (delta.metric.as_str(), day, delta.value, delta.event_count)
            })
            .collect();
        assert_eq!(
            found,
            [
                ("bytes", "2026-03-01".to_owned(), 5.5, 2),
                ("bytes", "2026-03-02".to_owned(), 1.0, 1),
                ("calls", "2026-03-01".to_owned(), 1.0, 1),
                ("held", "2026-03-01".to_owned(), 5.0, 3),
                ("peak", "2026-03-01".to_owned(), 7.0, 2),
            ]
        );
        assert_eq!(deltas[3].latest_event_id, "h", "ties go to the greatest id");
    }

    #[test]
    fn sums_saturate_below_the_end_of_f64() {
        let events: Vec<ValidEvent> = (0..3)
            .map(|index| {
                event(
                    &index.to_string(),
                    "bytes",
                    Aggregation::Sum,
                    1.7e308,
                    "2026-03-01T10:00:00Z",
                )
            })
            .collect();
        let deltas = rollup_deltas(&events);
        assert_eq!(deltas[0].value, ROLLUP_VALUE_CEILING);
        assert!((ROLLUP_VALUE_CEILING * 31.0).is_finite(), "a month of days");
    }
}
