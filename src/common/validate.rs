//! Validation of caller-supplied values. Each function returns the
//! violations it found for the field path it is given, so a request with
//! several bad fields is answered with all of them at once.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::error::{FieldViolation, Violations};

/// Slugs that would collide with well-known hostnames or routes.
pub const RESERVED_SLUGS: &[&str] = &[
    "www",
    "api",
    "admin",
    "app",
    "auth",
    "login",
    "mail",
    "smtp",
    "ftp",
    "static",
    "assets",
    "cdn",
    "status",
    "support",
    "help",
    "docs",
    "dashboard",
    "console",
    "internal",
    "system",
    "root",
    "tenantd",
    "default",
    "localhost",
    "grpc",
    "metrics",
    "health",
];

/// The most labels a tenant may carry.
pub const MAX_LABELS: usize = 64;
/// The longest display name, in characters.
pub const MAX_DISPLAY_NAME_CHARS: usize = 200;
/// The longest state-change reason, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// A slug is a DNS label: 3–63 of `[a-z0-9-]`, no hyphen at either end, not
/// reserved.
pub fn slug(value: &str, field: &str, violations: &mut Vec<FieldViolation>) {
    let description = if value.is_empty() {
        Some("is required".to_owned())
    } else if value.len() < 3 || value.len() > 63 {
        Some("must be 3 to 63 characters long".to_owned())
    } else if !value
        .bytes()
        .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
    {
        Some("may contain only lowercase letters, digits and hyphens".to_owned())
    } else if value.starts_with('-') || value.ends_with('-') {
        Some("must not start or end with a hyphen".to_owned())
    } else if RESERVED_SLUGS.contains(&value) {
        Some(format!("{value:?} is reserved"))
    } else {
        None
    };
    if let Some(description) = description {
        violations.refuse(field, description);
    }
}

/// The longest external id.
pub const MAX_EXTERNAL_ID_CHARS: usize = 128;

/// An external id, `None` when empty: 1 to [`MAX_EXTERNAL_ID_CHARS`]
/// ASCII letters, digits and `-_.:@+=` (what identity providers and CRMs
/// use for ids), so it fits a resource name segment and a header.
pub fn external_id(
    value: &str,
    field: &str,
    violations: &mut Vec<FieldViolation>,
) -> Option<String> {
    if value.is_empty() {
        return None;
    }
    if value.len() > MAX_EXTERNAL_ID_CHARS {
        violations.refuse(
            field,
            format!("must be at most {MAX_EXTERNAL_ID_CHARS} characters long"),
        );
    } else if !value
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || b"-_.:@+=".contains(&byte))
    {
        violations.refuse(
            field,
            "may contain only ASCII letters, digits and - _ . : @ + =",
        );
    }
    Some(value.to_owned())
}

/// A display name: at most [`MAX_DISPLAY_NAME_CHARS`] characters, no control
/// characters.
pub fn display_name(value: &str, field: &str, violations: &mut Vec<FieldViolation>) {
    plain_text(value, field, MAX_DISPLAY_NAME_CHARS, violations);
}

/// A free-text reason: at most [`MAX_REASON_CHARS`] characters, no control
/// characters.
pub fn reason(value: &str, field: &str, required: bool, violations: &mut Vec<FieldViolation>) {
    if required && value.trim().is_empty() {
        violations.refuse(field, "is required");
    } else {
        plain_text(value, field, MAX_REASON_CHARS, violations);
    }
}

/// Text a person reads: at most `max_chars` characters, no control
/// characters; one violation at the most, the length first.
fn plain_text(value: &str, field: &str, max_chars: usize, violations: &mut Vec<FieldViolation>) {
    if value.chars().count() > max_chars {
        violations.refuse(field, format!("must be at most {max_chars} characters"));
    } else if value.chars().any(char::is_control) {
        violations.refuse(field, "must not contain control characters");
    }
}

/// What a violation of [`storable_text`] says, wherever the rule is
/// applied (event by event here, or to a whole request as it is decoded).
pub const UNSTORABLE_TEXT: &str = "must not contain NUL";

/// Text every backend can store: PostgreSQL refuses the NUL character in
/// `text` and `jsonb` (and would fail the whole statement), while every
/// other character of valid UTF-8, which protobuf strings already are, is
/// stored as sent. Refusing NUL here, before any query, keeps one bad
/// string the caller's problem instead of a failed transaction.
pub fn storable_text(value: &str, field: &str) -> Result<(), FieldViolation> {
    if value.contains('\0') {
        return Err(FieldViolation::new(field, UNSTORABLE_TEXT));
    }
    Ok(())
}

fn is_label_char(byte: u8) -> bool {
    byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_' || byte == b'-'
}

/// A plan id follows the label-key rules: 1–63 of `[a-z0-9_-]`, starting
/// with a letter.
pub fn plan(value: &str, field: &str, violations: &mut Vec<FieldViolation>) {
    if !is_label_key(value) {
        violations.refuse(
            field,
            "must be 1 to 63 lowercase letters, digits, '_' or '-', starting with a letter",
        );
    }
}

fn is_label_key(key: &str) -> bool {
    (1..=63).contains(&key.len())
        && key.as_bytes()[0].is_ascii_lowercase()
        && key.bytes().all(is_label_char)
}

/// Labels: at most [`MAX_LABELS`]; keys as [`plan`]; values at most 63 of
/// `[a-z0-9_-]`.
pub fn labels(
    labels: &BTreeMap<String, String>,
    field: &str,
    violations: &mut Vec<FieldViolation>,
) {
    if labels.len() > MAX_LABELS {
        violations.refuse(field, format!("at most {MAX_LABELS} labels are allowed"));
    }
    for (key, value) in labels {
        if !is_label_key(key) {
            violations.refuse(
                format!("{field}[{key:?}]"),
                "key must be 1 to 63 lowercase letters, digits, '_' or '-', starting with a letter",
            );
        }
        if value.len() > 63 || !value.bytes().all(is_label_char) {
            violations.refuse(
                format!("{field}[{key:?}]"),
                "value must be at most 63 lowercase letters, digits, '_' or '-'",
            );
        }
    }
}

/// Normalises a custom-domain hostname to its lowercase ASCII (punycode)
/// form: IDNA-mapped, at most 253 characters, at least two labels of 1–63
/// letters, digits or hyphens, not an IP address, no wildcard.
pub fn hostname(value: &str, field: &str) -> Result<String, FieldViolation> {
    let invalid = |description: &str| FieldViolation::new(field, description);
    let trimmed = value.strip_suffix('.').unwrap_or(value);
    if trimmed.is_empty() {
        return Err(invalid("is required"));
    }
    if trimmed.parse::<IpAddr>().is_ok()
        || trimmed.trim_matches(['[', ']']).parse::<IpAddr>().is_ok()
    {
        return Err(invalid("must be a host name, not an IP address"));
    }
    let ascii = idna::domain_to_ascii_strict(trimmed)
        .map_err(|_| invalid("is not a valid internationalised domain name"))?;
    if ascii.len() > 253 {
        return Err(invalid("must be at most 253 characters in ASCII form"));
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.len() < 2 {
        return Err(invalid(
            "must have at least two labels, e.g. shop.example.com",
        ));
    }
    for label in &labels {
        let well_formed = (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !well_formed {
            return Err(invalid(
                "each label must be 1 to 63 letters, digits or hyphens, not starting or ending with a hyphen",
            ));
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|byte| byte.is_ascii_digit()))
    {
        return Err(invalid("must end in a top-level domain, not a number"));
    }
    Ok(ascii)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slug_ok(value: &str) -> bool {
        let mut violations = Vec::new();
        slug(value, "slug", &mut violations);
        violations.is_empty()
    }

    #[test]
    fn slugs_are_dns_labels_and_not_reserved() {
        assert!(slug_ok("acme"));
        assert!(slug_ok("acme-2"));
        assert!(slug_ok(&"a".repeat(63)));
        for bad in [
            "", "ab", "Acme", "-acme", "acme-", "ac_me", "www", "api", "admin", "ac.me",
        ] {
            assert!(!slug_ok(bad), "{bad:?} should be refused");
        }
        assert!(!slug_ok(&"a".repeat(64)));
    }

    #[test]
    fn hostnames_are_normalised_to_ascii() {
        assert_eq!(
            hostname("Shop.Example.COM.", "h").unwrap(),
            "shop.example.com"
        );
        assert_eq!(
            hostname("bücher.example", "h").unwrap(),
            "xn--bcher-kva.example"
        );
        for bad in [
            "",
            "localhost",
            "127.0.0.1",
            "::1",
            "[::1]",
            "*.example.com",
            "a..b",
            "-a.com",
            "1.2.3.4",
        ] {
            assert!(hostname(bad, "h").is_err(), "{bad:?} should be refused");
        }
        let long = format!("{}.com", vec!["a".repeat(63); 4].join("."));
        assert!(hostname(&long, "h").is_err());
    }

    #[test]
    fn storable_text_refuses_nul_only() {
        assert!(storable_text("é ✓ \u{1F600} \t", "f").is_ok());
        let refused = storable_text("a\0b", "events[3].metric").unwrap_err();
        assert_eq!(refused.field, "events[3].metric");
        assert_eq!(refused.description, "must not contain NUL");
    }

    #[test]
    fn labels_follow_key_and_value_rules() {
        let mut violations = Vec::new();
        let good = BTreeMap::from([
            ("env".to_owned(), "prod".to_owned()),
            ("tier".to_owned(), String::new()),
        ]);
        labels(&good, "labels", &mut violations);
        assert!(violations.is_empty());
        let bad = BTreeMap::from([
            ("Env".to_owned(), "prod".to_owned()),
            ("ok".to_owned(), "Bad Value".to_owned()),
        ]);
        labels(&bad, "labels", &mut violations);
        assert_eq!(violations.len(), 2);
    }
}
