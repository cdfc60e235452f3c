//! Conversions between proto messages and domain values. Validation of a
//! request happens in its conversion, so handlers only ever see valid input;
//! every violation found is reported at once, by field path.

use chrono::{DateTime, Utc};
use prost_types::{Struct, Timestamp, Value, value::Kind};

use crate::error::{Error, FieldViolation, Result};

/// A proto timestamp.
pub fn timestamp(at: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: at.timestamp(),
        // Always below 1e9, so it fits.
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// `given` as a `std` duration, when it is well formed (no negative
/// part, nanoseconds below a second) and within `range`; `None` otherwise.
pub fn duration_within(
    given: &prost_types::Duration,
    range: std::ops::RangeInclusive<std::time::Duration>,
) -> Option<std::time::Duration> {
    let seconds = u64::try_from(given.seconds).ok()?;
    let nanos = u32::try_from(given.nanos)
        .ok()
        .filter(|nanos| *nanos < 1_000_000_000)?;
    let duration = std::time::Duration::new(seconds, nanos);
    range.contains(&duration).then_some(duration)
}

pub(crate) fn into_result<T>(value: T, violations: Vec<FieldViolation>) -> Result<T> {
    if violations.is_empty() {
        Ok(value)
    } else {
        Err(Error::InvalidArgument(violations))
    }
}

/// A message field the request must set, or the violation of its absence.
pub fn required<'a, T>(value: Option<&'a T>, field: &str) -> Result<&'a T> {
    value.ok_or_else(|| Error::invalid_field(field, "is required"))
}

/// An optional etag: empty means unconditional.
pub fn etag(value: &str) -> Option<&str> {
    (!value.is_empty()).then_some(value)
}

/// A JSON object as a `google.protobuf.Struct`; `None` for other JSON.
pub fn json_object(value: serde_json::Value) -> Option<Struct> {
    match json_value(value).kind {
        Some(Kind::StructValue(object)) => Some(object),
        _ => None,
    }
}

/// A JSON value as a `google.protobuf.Value`. It takes the value, so its
/// strings move instead of being copied: listings convert whole pages of
/// documents.
pub fn json_value(value: serde_json::Value) -> Value {
    let kind = match value {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(flag) => Kind::BoolValue(flag),
        serde_json::Value::Number(number) => Kind::NumberValue(number.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(text) => Kind::StringValue(text),
        serde_json::Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.into_iter().map(json_value).collect(),
        }),
        serde_json::Value::Object(fields) => Kind::StructValue(Struct {
            fields: fields
                .into_iter()
                .map(|(key, value)| (key, json_value(value)))
                .collect(),
        }),
    };
    Value { kind: Some(kind) }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::duration_within;

    #[test]
    fn durations_outside_the_range_or_malformed_are_refused() {
        let range = Duration::from_secs(1)..=Duration::from_secs(300);
        let given = |seconds, nanos| prost_types::Duration { seconds, nanos };
        assert_eq!(
            duration_within(&given(1, 0), range.clone()),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            duration_within(&given(300, 0), range.clone()),
            Some(Duration::from_secs(300))
        );
        for refused in [
            given(0, 999_999_999),
            given(300, 1),
            given(-1, 0),
            given(5, -1),
            given(5, 1_000_000_000),
            given(i64::MAX, 0),
        ] {
            assert_eq!(
                duration_within(&refused, range.clone()),
                None,
                "{refused:?}"
            );
        }
    }
}
