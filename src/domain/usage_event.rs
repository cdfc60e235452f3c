//! Usage events as reported, their per-event validation, and the rollup
//! deltas that recorded events add to their days.
//!
//! Invariants kept here: a [`ValidEvent`] has an `event_id` of 1 to
//! [`MAX_EVENT_ID_LEN`] printable ASCII characters, a known metric, a
//! finite non-negative quantity, an `occurred_time` inside the acceptance
//! window, at most [`MAX_DIMENSIONS`] valid dimensions, and the unique
//! dimension when its metric counts one. Problems are [`Rejection`]s of one
//! event, never errors of the batch.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use super::ids::TenantId;
use super::metric::{Aggregation, Metric, is_dimension_key};

/// Most characters of an `event_id`.
pub const MAX_EVENT_ID_LEN: usize = 128;
/// Most dimensions on one event.
pub const MAX_DIMENSIONS: usize = 16;
/// Most characters of a dimension value.
pub const MAX_DIMENSION_VALUE_CHARS: usize = 256;

/// When events are accepted, relative to the server's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageSettings {
    /// How far back an `occurred_time` may be.
    pub acceptance_window: TimeDelta,
    /// How far ahead of the server's clock an `occurred_time` may be.
    pub future_skew: TimeDelta,
}

impl Default for UsageSettings {
    /// A late-arrival window of 7 days and 5 minutes of clock skew.
    fn default() -> Self {
        Self {
            acceptance_window: TimeDelta::days(7),
            future_skew: TimeDelta::minutes(5),
        }
    }
}

impl UsageSettings {
    /// Whether no event can change `day` any more at `now`: the whole day
    /// is older than the acceptance window.
    pub fn is_closed(&self, day: NaiveDate, now: DateTime<Utc>) -> bool {
        match day.succ_opt().and_then(|next| next.and_hms_opt(0, 0, 0)) {
            Some(end) => end.and_utc() <= now - self.acceptance_window,
            None => false,
        }
    }
}

/// An event as the reporter sent it, unchecked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawEvent {
    /// The reporter's id for the event.
    pub event_id: String,
    /// `tenants/{id}`, `tenants/slug:{slug}`, or empty.
    pub tenant: String,
    /// The metric key.
    pub metric: String,
    /// How much was used.
    pub quantity: f64,
    /// When; `None` when missing or not a valid time.
    pub occurred_time: Option<DateTime<Utc>>,
    /// Attributes of the usage.
    pub dimensions: BTreeMap<String, String>,
}

/// Why an event was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectionReason {
    /// The metric is not in the catalogue.
    UnknownMetric,
    /// Before the acceptance window.
    TooOld,
    /// Further ahead than the allowed skew.
    TooFarInFuture,
    /// Malformed.
    Invalid,
    /// A tenant that does not exist or that the caller may not report for.
    TenantNotFound,
}

/// One rejected event of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Its position in the batch, from 0.
    pub index: usize,
    /// Its `event_id`.
    pub event_id: String,
    /// Why.
    pub reason: RejectionReason,
    /// A human-readable explanation.
    pub message: String,
}

/// An event that passed every check, ready to be recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidEvent {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The reporter's id.
    pub event_id: String,
    /// The metric key.
    pub metric: String,
    /// The metric's aggregation.
    pub aggregation: Aggregation,
    /// The quantity (as sent; COUNT ignores it).
    pub quantity: f64,
    /// When.
    pub occurred_time: DateTime<Utc>,
    /// Its UTC day.
    pub day: NaiveDate,
    /// Its dimensions.
    pub dimensions: BTreeMap<String, String>,
    /// The value of the unique dimension, for UNIQUE_COUNT metrics.
    pub unique_value: Option<String>,
}

/// What validation needs besides the event.
pub struct Checks<'a> {
    /// The server's clock when the batch arrived.
    pub now: DateTime<Utc>,
    /// The window.
    pub settings: &'a UsageSettings,
    /// The catalogue's metrics named by the batch.
    pub metrics: &'a HashMap<String, Metric>,
}

fn invalid(message: impl Into<String>) -> (RejectionReason, String) {
    (RejectionReason::Invalid, message.into())
}

fn check_dimensions(
    dimensions: &BTreeMap<String, String>,
) -> Result<(), (RejectionReason, String)> {
    if dimensions.len() > MAX_DIMENSIONS {
        return Err(invalid(format!(
            "has more than {MAX_DIMENSIONS} dimensions"
        )));
    }
    for (key, value) in dimensions {
        if !is_dimension_key(key) {
            return Err(invalid(format!(
                "dimension {key:?} must be 1 to 63 lowercase letters, digits or '_', starting with a letter"
            )));
        }
        if value.chars().count() > MAX_DIMENSION_VALUE_CHARS {
            return Err(invalid(format!(
                "dimension {key:?} has a value longer than {MAX_DIMENSION_VALUE_CHARS} characters"
            )));
        }
    }
    Ok(())
}

/// Checks `event` of `tenant_id`; the tenant was checked by the caller.
pub fn validate(
    event: RawEvent,
    tenant_id: TenantId,
    checks: &Checks<'_>,
) -> Result<ValidEvent, (RejectionReason, String)> {
    let Some(metric) = checks.metrics.get(&event.metric) else {
        return Err((
            RejectionReason::UnknownMetric,
            format!("there is no metric {:?} in the catalogue", event.metric),
        ));
    };
    let Some(occurred_time) = event.occurred_time else {
        return Err(invalid("occurred_time is required"));
    };
    if occurred_time < checks.now - checks.settings.acceptance_window {
        return Err((
            RejectionReason::TooOld,
            format!(
                "occurred_time is more than {} days ago; its day may already be billed",
                checks.settings.acceptance_window.num_days()
            ),
        ));
    }
    if occurred_time > checks.now + checks.settings.future_skew {
        return Err((
            RejectionReason::TooFarInFuture,
            format!(
                "occurred_time is more than {} seconds ahead of the server's clock",
                checks.settings.future_skew.num_seconds()
            ),
        ));
    }
    if !event.quantity.is_finite() || event.quantity < 0.0 {
        return Err(invalid("quantity must be finite and not negative"));
    }
    check_dimensions(&event.dimensions)?;
    let unique_value = match metric.aggregation {
        Aggregation::UniqueCount => match event.dimensions.get(&metric.unique_dimension) {
            Some(value) => Some(value.clone()),
            None => {
                return Err(invalid(format!(
                    "metric {:?} counts distinct {:?}, which the event lacks",
                    metric.key, metric.unique_dimension
                )));
            }
        },
        _ => None,
    };
    Ok(ValidEvent {
        tenant_id,
        event_id: event.event_id,
        metric: event.metric,
        aggregation: metric.aggregation,
        quantity: event.quantity,
        occurred_time,
        day: occurred_time.date_naive(),
        dimensions: event.dimensions,
        unique_value,
    })
}

/// Checks an `event_id` before anything else: without a usable id an event
/// cannot even be told apart from a duplicate.
pub fn check_event_id(event_id: &str) -> Result<(), (RejectionReason, String)> {
    let printable = event_id.bytes().all(|byte| (0x20..=0x7e).contains(&byte));
    if event_id.is_empty() || event_id.len() > MAX_EVENT_ID_LEN || !printable {
        return Err(invalid(format!(
            "event_id must be 1 to {MAX_EVENT_ID_LEN} printable ASCII characters"
        )));
    }
    Ok(())
}

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
            Aggregation::Sum => delta.value + event.quantity,
            Aggregation::Count => delta.value + 1.0,
            Aggregation::Max if delta.event_count == 0 => event.quantity,
            Aggregation::Max => delta.value.max(event.quantity),
            Aggregation::Latest if later => event.quantity,
            Aggregation::Latest | Aggregation::UniqueCount => delta.value,
        };
        if later {
            delta.latest_micros = micros;
            delta.latest_event_id = event.event_id.clone();
        }
        delta.event_count += 1;
    }
    deltas.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let events = [
            event("a", "bytes", Aggregation::Sum, 2.0, "2026-03-01T10:00:00Z"),
            event("b", "bytes", Aggregation::Sum, 3.5, "2026-03-01T23:59:59Z"),
            event("c", "bytes", Aggregation::Sum, 1.0, "2026-03-02T00:00:00Z"),
            event(
                "d",
                "calls",
                Aggregation::Count,
                9.0,
                "2026-03-01T01:00:00Z",
            ),
            event("e", "peak", Aggregation::Max, 4.0, "2026-03-01T01:00:00Z"),
            event("f", "peak", Aggregation::Max, 7.0, "2026-03-01T00:00:00Z"),
            event(
                "h",
                "held",
                Aggregation::Latest,
                5.0,
                "2026-03-01T05:00:00Z",
            ),
            event(
                "g",
                "held",
                Aggregation::Latest,
                6.0,
                "2026-03-01T05:00:00Z",
            ),
            event(
                "i",
                "held",
                Aggregation::Latest,
                1.0,
                "2026-03-01T04:00:00Z",
            ),
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
    fn event_ids_are_bounded_printable_ascii() {
        assert!(check_event_id("0192-ab cd").is_ok());
        assert!(check_event_id("").is_err());
        assert!(check_event_id(&"x".repeat(129)).is_err());
        assert!(check_event_id("tab\there").is_err());
        assert!(check_event_id("é").is_err());
    }

    #[test]
    fn days_close_once_older_than_the_window() {
        let settings = UsageSettings::default();
        let now = DateTime::parse_from_rfc3339("2026-03-10T12:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let day = |text: &str| NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("day");
        assert!(settings.is_closed(day("2026-03-02"), now));
        assert!(!settings.is_closed(day("2026-03-03"), now));
    }
}
