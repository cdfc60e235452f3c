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
