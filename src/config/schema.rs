//! The JSON schema every effective configuration must satisfy: the one
//! shipped in `config/schema.json`, or the operator's own.
//!
//! A violation is reported as a `BadRequest` field violation whose `field`
//! is the JSON pointer of the offending value (`/branding/primary_color`),
//! with the value itself masked, so a 64 KiB style sheet is never echoed.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::error::{Error, FieldViolation, Result};

/// The schema tenantd ships with.
pub const DEFAULT_SCHEMA: &str = include_str!("../../config/schema.json");

/// A compiled configuration schema; cheap to clone.
#[derive(Clone)]
pub struct ConfigSchema {
    /// The compiled validator.
    validator: Arc<jsonschema::Validator>,
}

impl std::fmt::Debug for ConfigSchema {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ConfigSchema")
            .finish_non_exhaustive()
    }
}

impl ConfigSchema {
    /// Compiles the schema in `text`; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<Self> {
        let schema: Value = serde_json::from_str(text)
            .map_err(|error| Error::invalid_field(source, format!("is not JSON: {error}")))?;
        let validator = jsonschema::validator_for(&schema).map_err(|error| {
            Error::invalid_field(source, format!("is not a usable JSON schema: {error}"))
        })?;
        Ok(Self {
            validator: Arc::new(validator),
        })
    }

    /// The schema shipped in `config/schema.json`.
    pub fn shipped() -> Result<Self> {
        Self::parse(DEFAULT_SCHEMA, "config/schema.json")
    }

    /// Refuses `document` unless it satisfies the schema, with one
    /// violation per offending value.
    pub fn validate(&self, document: &Map<String, Value>) -> Result<()> {
        let instance = Value::Object(document.clone());
        let violations: Vec<FieldViolation> = self
            .validator
            .iter_errors(&instance)
            .map(|error| {
                FieldViolation::new(
                    error.instance_path().to_string(),
                    error.masked().to_string(),
                )
            })
            .collect();
        if violations.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidArgument(violations))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn violations(document: Value) -> Vec<String> {
        let schema = ConfigSchema::shipped().expect("the shipped schema compiles");
        let document = document.as_object().cloned().expect("an object");
        match schema.validate(&document) {
            Ok(()) => Vec::new(),
            Err(Error::InvalidArgument(violations)) => {
                violations.into_iter().map(|found| found.field).collect()
            }
            Err(other) => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn branding_rules_point_at_the_bad_value() {
        assert!(violations(json!({"branding": {"primary_color": "#12ab9F"}})).is_empty());
        assert_eq!(
            violations(json!({"branding": {"primary_color": "red"}})),
            ["/branding/primary_color"]
        );
        assert_eq!(
            violations(json!({"branding": {"logo_uri": "http://x.example/l.png"}})),
            ["/branding/logo_uri"]
        );
        assert_eq!(
            violations(json!({"branding": {"email_sender_name": "a\nb"}})),
            ["/branding/email_sender_name"]
        );
        assert_eq!(
            violations(json!({"branding": {"custom_css": "x".repeat(65537)}})),
            ["/branding/custom_css"]
        );
    }
}
