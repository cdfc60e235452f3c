//! Usage metrics: the catalogue's resource, its aggregations and their
//! validation.
//!
//! Invariants kept here: a [`Metric`] has a valid key (the format of quota
//! keys, since periodic quotas name metrics), a unit, and a
//! `unique_dimension` exactly when its aggregation is
//! [`Aggregation::UniqueCount`]. The aggregation and its dimension never
//! change once created: stored rollups depend on them.

use serde::Serialize;

use crate::common::validate::storable_text;
use crate::error::{FieldViolation, Result, Violations};
use crate::quota::is_quota_key;
use crate::store::revision::{Revisioned, Stamps, etag_of, revisioned, serde_snapshot};

/// Most characters of a metric's display name.
pub const MAX_METRIC_DISPLAY_NAME_CHARS: usize = 200;
/// Most characters of a metric's description.
pub const MAX_METRIC_DESCRIPTION_CHARS: usize = 1000;
/// Most characters of a unit.
pub const MAX_UNIT_CHARS: usize = 63;

/// How the events of a metric are aggregated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// The sum of the quantities.
    Sum,
    /// The number of events.
    Count,
    /// The largest quantity.
    Max,
    /// The number of distinct values of the unique dimension.
    UniqueCount,
    /// The quantity of the latest event.
    Latest,
}

impl Aggregation {
    /// The stored form: `sum`, `count`, `max`, `unique_count`, `latest`.
    pub fn as_str(self) -> &'static str {
        match self {
            Aggregation::Sum => "sum",
            Aggregation::Count => "count",
            Aggregation::Max => "max",
            Aggregation::UniqueCount => "unique_count",
            Aggregation::Latest => "latest",
        }
    }

    /// Parses the stored form.
    pub fn parse(text: &str) -> Option<Self> {
        [
            Aggregation::Sum,
            Aggregation::Count,
            Aggregation::Max,
            Aggregation::UniqueCount,
            Aggregation::Latest,
        ]
        .into_iter()
        .find(|aggregation| aggregation.as_str() == text)
    }
}

/// A metric of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Metric {
    /// The key events name it by.
    pub key: String,
    /// What it measures and how.
    #[serde(flatten)]
    pub spec: MetricSpec,
    /// Its revision and times; the etag is derived from the revision.
    #[serde(flatten)]
    pub stamps: Stamps,
}

/// What a metric measures and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetricSpec {
    /// A human-readable name.
    pub display_name: String,
    /// What is measured and how.
    pub description: String,
    /// The UCUM unit of quantities.
    pub unit: String,
    /// How events are aggregated; immutable.
    pub aggregation: Aggregation,
    /// The dimension UNIQUE_COUNT counts; empty otherwise; immutable.
    pub unique_dimension: String,
}

impl Metric {
    /// `metrics/{key}`.
    pub fn resource_name(&self) -> String {
        format!("metrics/{}", self.key)
    }

    /// The opaque etag of this revision.
    pub fn etag(&self) -> String {
        etag_of(&[self.key.as_bytes(), &self.stamps.revision.to_be_bytes()])
    }
}

revisioned!(Metric, "metric", "metrics", serde_snapshot);

/// A validated metric to create.
#[derive(Debug, Clone)]
pub struct NewMetric {
    /// The key.
    pub key: String,
    /// What it measures and how.
    pub spec: MetricSpec,
}

/// A validated change to a metric: `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct MetricPatch {
    /// A new display name.
    pub display_name: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// A new unit.
    pub unit: Option<String>,
}

/// Whether `key` is a valid metric key: 1 to 63 of `[a-z0-9_.]`, starting
/// with a letter (the quota key format, since quotas name metrics).
pub fn is_metric_key(key: &str) -> bool {
    is_quota_key(key)
}

/// Whether `key` is a valid dimension key: 1 to 63 of `[a-z0-9_]`,
/// starting with a letter.
pub fn is_dimension_key(key: &str) -> bool {
    (1..=63).contains(&key.len())
        && key.as_bytes()[0].is_ascii_lowercase()
        && key
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_')
}

/// Validates a metric key in `field`.
pub fn validate_key(key: &str, field: &str, violations: &mut Vec<FieldViolation>) {
    if !is_metric_key(key) {
        violations.refuse(
            field,
            "must be 1 to 63 lowercase letters, digits, '_' or '.', starting with a letter",
        );
    }
}

/// Parses `metrics/{key}` into the key.
pub fn parse_metric_name(name: &str, field: &str) -> Result<String> {
    Metric::parse_key(name, field, validate_key)
}

/// At most `max` characters; control characters only when `multiline`
/// (descriptions may hold line breaks).
fn bounded_text(
    value: &str,
    max: usize,
    multiline: bool,
    field: String,
    violations: &mut Vec<FieldViolation>,
) {
    if value.chars().count() > max {
        violations.refuse(field, format!("must be at most {max} characters"));
    } else if let Err(violation) = storable_text(value, &field) {
        // Multiline text allows control characters, but NUL cannot be stored.
        violations.push(violation);
    } else if !multiline && value.chars().any(char::is_control) {
        violations.refuse(field, "must not contain control characters");
    }
}

/// Validates the mutable fields of a metric (`field` is e.g. `metric`);
/// `None` skips a field left unchanged.
pub fn validate_text(
    display_name: Option<&str>,
    description: Option<&str>,
    unit: Option<&str>,
    field: &str,
    violations: &mut Vec<FieldViolation>,
) {
    let free_text = [
        (
            display_name,
            "display_name",
            MAX_METRIC_DISPLAY_NAME_CHARS,
            false,
        ),
        (
            description,
            "description",
            MAX_METRIC_DESCRIPTION_CHARS,
            true,
        ),
    ];
    for (value, name, max, multiline) in free_text {
        if let Some(value) = value {
            bounded_text(value, max, multiline, format!("{field}.{name}"), violations);
        }
    }
    if let Some(unit) = unit {
        let path = format!("{field}.unit");
        if unit.trim().is_empty() {
            violations.refuse(path, "is required, e.g. 1, By, s or {request}");
        } else if unit.contains(char::is_whitespace) {
            violations.refuse(path, "must be a UCUM code without spaces");
        } else {
            bounded_text(unit, MAX_UNIT_CHARS, false, path, violations);
        }
    }
}

/// Validates the aggregation's dimension: required for UNIQUE_COUNT, empty
/// otherwise.
pub fn validate_unique_dimension(
    aggregation: Option<Aggregation>,
    dimension: &str,
    field: &str,
    violations: &mut Vec<FieldViolation>,
) {
    match aggregation {
        Some(Aggregation::UniqueCount) if !is_dimension_key(dimension) => {
            violations.refuse(
                field,
                "is required for UNIQUE_COUNT: 1 to 63 lowercase letters, digits or '_', starting with a letter");
        }
        Some(Aggregation::UniqueCount) | None => {}
        Some(_) if !dimension.is_empty() => violations.refuse(
            field,
            "must be empty unless the aggregation is UNIQUE_COUNT",
        ),
        Some(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregations_round_trip_their_stored_form() {
        for aggregation in [
            Aggregation::Sum,
            Aggregation::Count,
            Aggregation::Max,
            Aggregation::UniqueCount,
            Aggregation::Latest,
        ] {
            assert_eq!(Aggregation::parse(aggregation.as_str()), Some(aggregation));
        }
        assert_eq!(Aggregation::parse("avg"), None);
    }

    #[test]
    fn metric_names_and_dimensions_are_checked() {
        assert_eq!(
            parse_metric_name("metrics/storage.bytes", "name").ok(),
            Some("storage.bytes".to_owned())
        );
        assert!(parse_metric_name("metrics/Storage", "name").is_err());
        assert!(parse_metric_name("plans/x", "name").is_err());
        assert!(is_dimension_key("user_id"));
        assert!(!is_dimension_key("user.id"));
        assert!(!is_dimension_key("1user"));
    }

    #[test]
    fn unique_count_needs_its_dimension_and_only_it() {
        let mut violations = Vec::new();
        validate_unique_dimension(Some(Aggregation::UniqueCount), "", "d", &mut violations);
        validate_unique_dimension(Some(Aggregation::Sum), "user_id", "d", &mut violations);
        assert_eq!(violations.len(), 2);
        violations.clear();
        validate_unique_dimension(
            Some(Aggregation::UniqueCount),
            "user_id",
            "d",
            &mut violations,
        );
        validate_unique_dimension(Some(Aggregation::Sum), "", "d", &mut violations);
        assert!(violations.is_empty());
    }
}
