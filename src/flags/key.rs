//! The one rule for flag keys, shared by definitions and overrides.

use crate::error::{FieldViolation, Violations};

/// The longest flag key.
pub const MAX_KEY_CHARS: usize = 128;

/// A flag key: 1 to 128 of `[a-z0-9._-]`, starting with a letter.
pub fn key(value: &str, field: &str, violations: &mut Vec<FieldViolation>) {
    let well_formed = value.len() <= MAX_KEY_CHARS
        && value.starts_with(|first: char| first.is_ascii_lowercase())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
    if !well_formed {
        violations.refuse(
            field,
            "a flag key is 1 to 128 lowercase letters, digits, `-`, `_` or `.`, starting with a letter");
    }
}
