//! Usage events as reported and their per-event validation (the rollup
//! deltas of recorded events are in `usage_delta.rs`).
//!
//! Invariants kept here: a [`ValidEvent`] has an `event_id` of 1 to
//! [`MAX_EVENT_ID_LEN`] printable ASCII characters, a known metric, a
//! finite non-negative quantity of at most [`MAX_QUANTITY`], an
//! `occurred_time` inside the acceptance window, at most [`MAX_DIMENSIONS`]
//! valid dimensions, the unique dimension when its metric counts one, and
//! only text every backend can store. Problems are [`Rejection`]s of one
//! event, never errors of the batch, and their messages name the field
//! (`events[3].dimensions["region"]: must not contain NUL`).
//!
//! [`precheck`] runs every check that needs no lookup before any lookup, so
//! an event the database could not even be asked about (a NUL byte, an
//! overlong name) never reaches a query.
//!
//! Rollup arithmetic cannot overflow: a quantity is at most
//! [`MAX_QUANTITY`], so a day would need more than 10^280 events to leave
//! the range of `f64`; as a backstop, folds saturate values at
//! [`crate::usage::delta::ROLLUP_VALUE_CEILING`] and event counts at
//! `i64::MAX`.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use crate::common::ids::TenantId;
use crate::error::FieldViolation;
use crate::usage::metric::{Aggregation, Metric, is_dimension_key, is_metric_key};

/// Most characters of an `event_id`.
pub const MAX_EVENT_ID_LEN: usize = 128;
/// Most dimensions on one event.
pub const MAX_DIMENSIONS: usize = 16;
/// Most characters of a dimension value.
pub const MAX_DIMENSION_VALUE_CHARS: usize = 256;
/// Most characters of an event's `tenant`: `tenants/external:` and an
/// external id of 128, the longest name a tenant has.
pub const MAX_TENANT_CHARS: usize = 145;
/// The largest quantity of one event (10^18, an exabyte in bytes).
pub const MAX_QUANTITY: f64 = 1e18;

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
    /// A field no backend can store, found where the event was decoded
    /// (see [`crate::common::validate::storable_text`]); the event is
    /// rejected before any of its text reaches a query.
    pub unstorable: Option<FieldViolation>,
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

/// Why one event was refused: its reason and a message that names the
/// field within the event (`quantity: must be finite`); the batch adds the
/// event's position in front.
pub type EventProblem = (RejectionReason, String);

/// A problem of `field` (a path within the event).
pub fn problem(reason: RejectionReason, field: &str, description: impl Display) -> EventProblem {
    (reason, format!("{field}: {description}"))
}

fn invalid(field: &str, description: impl Display) -> EventProblem {
    problem(RejectionReason::Invalid, field, description)
}

fn check_dimensions(dimensions: &BTreeMap<String, String>) -> Result<(), EventProblem> {
    if dimensions.len() > MAX_DIMENSIONS {
        return Err(invalid(
            "dimensions",
            format!(
                "at most {MAX_DIMENSIONS} are allowed, not {}",
                dimensions.len()
            ),
        ));
    }
    for (key, value) in dimensions {
        let field = format!("dimensions[{key:?}]");
        if !is_dimension_key(key) {
            return Err(invalid(
                &field,
                "key must be 1 to 63 lowercase letters, digits or '_', starting with a letter",
            ));
        }
        if value.chars().count() > MAX_DIMENSION_VALUE_CHARS {
            return Err(invalid(
                &field,
                format!("must be at most {MAX_DIMENSION_VALUE_CHARS} characters"),
            ));
        }
    }
    Ok(())
}

/// Checks a quantity: finite, not negative, at most [`MAX_QUANTITY`].
pub fn check_quantity(quantity: f64) -> Result<(), EventProblem> {
    // NaN and the infinities are outside the range too.
    if !(0.0..=MAX_QUANTITY).contains(&quantity) {
        return Err(invalid(
            "quantity",
            format!("must be finite, not negative and at most {MAX_QUANTITY:e}, not {quantity}"),
        ));
    }
    Ok(())
}

/// Every check of `event` that needs no lookup: storable text, the
/// `event_id`, the shape of `tenant` and `metric`, the quantity and the
/// dimensions. Runs before the tenant and the metric are looked up, so
/// nothing of a refused event reaches a query.
pub fn precheck(event: &RawEvent) -> Result<(), EventProblem> {
    if let Some(violation) = &event.unstorable {
        return Err(invalid(&violation.field, &violation.description));
    }
    check_event_id(&event.event_id)?;
    if event.tenant.chars().count() > MAX_TENANT_CHARS {
        return Err(invalid(
            "tenant",
            format!(
                "must be at most {MAX_TENANT_CHARS} characters: tenants/{{id}}, tenants/slug:{{slug}} or tenants/external:{{external_id}}"
            ),
        ));
    }
    if !is_metric_key(&event.metric) {
        return Err(invalid(
            "metric",
            "must be 1 to 63 lowercase letters, digits, '_' or '.', starting with a letter",
        ));
    }
    check_quantity(event.quantity)?;
    check_dimensions(&event.dimensions)
}

/// Refuses an event that occurred before the acceptance window (its day
/// may be billed already) or too far ahead of the server's clock.
fn check_window(occurred_time: DateTime<Utc>, checks: &Checks<'_>) -> Result<(), EventProblem> {
    let settings = checks.settings;
    let (reason, message) = if occurred_time < checks.now - settings.acceptance_window {
        let days = settings.acceptance_window.num_days();
        let message = format!("is more than {days} days ago; its day may already be billed");
        (RejectionReason::TooOld, message)
    } else if occurred_time > checks.now + settings.future_skew {
        let seconds = settings.future_skew.num_seconds();
        let message = format!("is more than {seconds} seconds ahead of the server's clock");
        (RejectionReason::TooFarInFuture, message)
    } else {
        return Ok(());
    };
    Err(problem(reason, "occurred_time", message))
}

/// The value a UNIQUE_COUNT `metric` counts: its unique dimension, which
/// such an event must carry; `None` for other metrics.
fn unique_value(
    metric: &Metric,
    dimensions: &BTreeMap<String, String>,
) -> Result<Option<String>, EventProblem> {
    if metric.spec.aggregation != Aggregation::UniqueCount {
        return Ok(None);
    }
    match dimensions.get(&metric.spec.unique_dimension) {
        Some(value) => Ok(Some(value.clone())),
        None => Err(invalid(
            &format!("dimensions[{:?}]", metric.spec.unique_dimension),
            format!(
                "is required: metric {:?} counts its distinct values",
                metric.key
            ),
        )),
    }
}

/// Checks `event` of `tenant_id` against the catalogue and the clock, after
/// [`precheck`]; the tenant was checked by the caller.
pub fn validate(
    event: RawEvent,
    tenant_id: TenantId,
    checks: &Checks<'_>,
) -> Result<ValidEvent, EventProblem> {
    let Some(metric) = checks.metrics.get(&event.metric) else {
        return Err(problem(
            RejectionReason::UnknownMetric,
            "metric",
            format!("there is no metric {:?} in the catalogue", event.metric),
        ));
    };
    let Some(occurred_time) = event.occurred_time else {
        return Err(invalid("occurred_time", "is required"));
    };
    check_window(occurred_time, checks)?;
    let unique_value = unique_value(metric, &event.dimensions)?;
    Ok(ValidEvent {
        tenant_id,
        event_id: event.event_id,
        metric: event.metric,
        aggregation: metric.spec.aggregation,
        quantity: event.quantity,
        occurred_time,
        day: occurred_time.date_naive(),
        dimensions: event.dimensions,
        unique_value,
    })
}

/// Checks an `event_id` before anything else: without a usable id an event
/// cannot even be told apart from a duplicate.
pub fn check_event_id(event_id: &str) -> Result<(), EventProblem> {
    let printable = event_id.bytes().all(|byte| (0x20..=0x7e).contains(&byte));
    if event_id.is_empty() || event_id.len() > MAX_EVENT_ID_LEN || !printable {
        return Err(invalid(
            "event_id",
            format!("must be 1 to {MAX_EVENT_ID_LEN} printable ASCII characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_finite_and_bounded() {
        assert!(check_quantity(0.0).is_ok());
        assert!(check_quantity(MAX_QUANTITY).is_ok());
        for bad in [-1.0, 1.7e308, f64::INFINITY, f64::NAN, MAX_QUANTITY * 1.01] {
            let (reason, message) = check_quantity(bad).unwrap_err();
            assert_eq!(reason, RejectionReason::Invalid);
            assert!(message.starts_with("quantity: "), "{message}");
        }
    }

    #[test]
    fn prechecks_name_the_field() {
        let raw = RawEvent {
            event_id: "e".to_owned(),
            metric: "bytes".to_owned(),
            dimensions: BTreeMap::from([("Region".to_owned(), "x".to_owned())]),
            ..RawEvent::default()
        };
        let (_, message) = precheck(&raw).unwrap_err();
        assert!(
            message.starts_with("dimensions[\"Region\"]: key must"),
            "{message}"
        );
        let unstorable = RawEvent {
            unstorable: Some(FieldViolation::new("metric", "must not contain NUL")),
            ..raw.clone()
        };
        assert_eq!(
            precheck(&unstorable).unwrap_err().1,
            "metric: must not contain NUL"
        );
        let long_tenant = RawEvent {
            tenant: format!("tenants/external:{}", "a".repeat(129)),
            dimensions: BTreeMap::new(),
            ..raw
        };
        assert!(
            precheck(&long_tenant)
                .unwrap_err()
                .1
                .starts_with("tenant: ")
        );
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
