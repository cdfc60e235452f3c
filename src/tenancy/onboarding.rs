//! What a creator hands to onboarding services: the first administrator's
//! address and free-form attributes, carried by the `tenant.created` event
//! so that another service sends the welcome email (tenantd sends none).
//!
//! Invariants:
//! - both are bounded and checked field by field before any other work;
//! - neither is stored on the tenant: they travel only in the creation's
//!   audit record (its `after` snapshot gains an `onboarding` object),
//!   whose `tenant.created` event carries them as `data.onboarding`; a
//!   replayed create (same request id) writes no record, so no second event.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::common::validate;
use crate::error::{FieldViolation, Violations};
use crate::store::audit::AuditRecord;

/// The longest address accepted (RFC 5321's path limit less its brackets).
pub const MAX_EMAIL_LEN: usize = 254;
/// The longest local part of an address (RFC 5321).
pub const MAX_EMAIL_LOCAL_LEN: usize = 64;
/// The most onboarding attributes a create may carry.
pub const MAX_ATTRIBUTES: usize = 32;
/// The longest attribute key, in characters.
pub const MAX_ATTRIBUTE_KEY_CHARS: usize = 64;
/// The longest attribute value, in characters.
pub const MAX_ATTRIBUTE_VALUE_CHARS: usize = 512;

/// Onboarding input of one create, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Onboarding {
    /// The first administrator's address, its domain in ASCII form.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_admin_email: Option<String>,
    /// Free-form attributes, sorted by key.
    pub attributes: BTreeMap<String, String>,
}

impl Onboarding {
    /// Validates `email` (empty for none) and `attributes`, naming each
    /// refused one in `violations` under `email_field` and
    /// `attributes_field[key]`.
    pub fn parse(
        email: &str,
        email_field: &str,
        attributes: &HashMap<String, String>,
        attributes_field: &str,
        violations: &mut Vec<FieldViolation>,
    ) -> Self {
        let initial_admin_email = if email.is_empty() {
            None
        } else {
            match parse_email(email) {
                Ok(address) => Some(address),
                Err(description) => {
                    violations.refuse(email_field, description);
                    None
                }
            }
        };
        Self {
            initial_admin_email,
            attributes: parse_attributes(attributes, attributes_field, violations),
        }
    }

    /// Whether there is nothing to carry.
    pub fn is_empty(&self) -> bool {
        self.initial_admin_email.is_none() && self.attributes.is_empty()
    }

    /// Adds `onboarding` to the creation record's `after` snapshot, when
    /// there is something to carry.
    pub fn attach(&self, record: &mut AuditRecord) -> crate::error::Result<()> {
        if self.is_empty() {
            return Ok(());
        }
        if let Some(serde_json::Value::Object(after)) = record.after.as_mut() {
            let value = serde_json::to_value(self).map_err(crate::error::Error::internal)?;
            after.insert("onboarding".to_owned(), value);
        }
        Ok(())
    }
}

/// A plausible address: `local@domain`, the local part printable ASCII
/// without the characters that need quoting, the domain a host name of
/// two labels or more (normalised to ASCII).
fn parse_email(email: &str) -> Result<String, String> {
    if email.len() > MAX_EMAIL_LEN {
        return Err(format!("must be at most {MAX_EMAIL_LEN} characters"));
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err("must be an address of the form local@domain".to_owned());
    };
    let local_ok = !local.is_empty()
        && local.len() <= MAX_EMAIL_LOCAL_LEN
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .bytes()
            .all(|byte| byte.is_ascii_graphic() && !b"\"(),:;<>@[\\]".contains(&byte));
    if !local_ok {
        return Err(format!(
            "the part before '@' must be 1 to {MAX_EMAIL_LOCAL_LEN} printable ASCII characters, \
             without spaces, quotes, brackets or '(),:;<>@\\', and no leading, trailing or double '.'"
        ));
    }
    let domain = validate::hostname(domain, "")
        .map_err(|violation| format!("the domain {}", violation.description))?;
    Ok(format!("{local}@{domain}"))
}

fn parse_attributes(
    attributes: &HashMap<String, String>,
    field: &str,
    violations: &mut Vec<FieldViolation>,
) -> BTreeMap<String, String> {
    if attributes.len() > MAX_ATTRIBUTES {
        violations.refuse(
            field,
            format!("at most {MAX_ATTRIBUTES} onboarding attributes are allowed"),
        );
        return BTreeMap::new();
    }
    let mut parsed = BTreeMap::new();
    for (key, value) in attributes {
        // A hostile key is named by its start only.
        let shown: String = key.chars().take(MAX_ATTRIBUTE_KEY_CHARS).collect();
        let entry = format!("{field}[{shown:?}]");
        let key_chars = key.chars().count();
        if key_chars == 0
            || key_chars > MAX_ATTRIBUTE_KEY_CHARS
            || key.chars().any(char::is_control)
        {
            violations.refuse(
                &entry,
                format!(
                    "key must be 1 to {MAX_ATTRIBUTE_KEY_CHARS} characters without control characters"
                ),
            );
            continue;
        }
        if value.chars().count() > MAX_ATTRIBUTE_VALUE_CHARS || value.chars().any(char::is_control)
        {
            violations.refuse(
                &entry,
                format!(
                    "value must be at most {MAX_ATTRIBUTE_VALUE_CHARS} characters without control characters"
                ),
            );
            continue;
        }
        parsed.insert(key.clone(), value.clone());
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(text: &str) -> Result<String, String> {
        parse_email(text)
    }

    #[test]
    fn plausible_addresses_pass_and_others_are_refused() {
        assert_eq!(
            email("ann.lee+ops@Example.COM").unwrap(),
            "ann.lee+ops@example.com"
        );
        assert_eq!(
            email("a@bücher.example").unwrap(),
            "a@xn--bcher-kva.example"
        );
        for bad in [
            "ann",
            "@example.com",
            "ann@",
            "ann@localhost",
            "ann@127.0.0.1",
            "a b@example.com",
            "ann..lee@example.com",
            "ann@exa mple.com",
            "ann\n@example.com",
        ] {
            assert!(email(bad).is_err(), "{bad:?} passed");
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert!(email(&long_local).is_err());
        let long = format!("a@{}.com", "b".repeat(260));
        assert!(email(&long).is_err());
    }

    #[test]
    fn attributes_are_bounded_entry_by_entry() {
        let mut violations = Vec::new();
        let given = HashMap::from([
            ("plan_source".to_owned(), "web signup".to_owned()),
            (String::new(), "x".to_owned()),
            ("bad".to_owned(), "a\u{0}b".to_owned()),
            ("long".to_owned(), "v".repeat(513)),
        ]);
        let parsed = parse_attributes(&given, "attrs", &mut violations);
        assert_eq!(parsed.len(), 1);
        assert_eq!(violations.len(), 3);
        let many: HashMap<String, String> = (0..33)
            .map(|index| (format!("k{index}"), String::new()))
            .collect();
        let mut violations = Vec::new();
        assert!(parse_attributes(&many, "attrs", &mut violations).is_empty());
        assert_eq!(violations.len(), 1);
    }

    #[test]
    fn attach_adds_onboarding_to_the_creation_snapshot_only_when_given() {
        let mut record = AuditRecord {
            tenant_id: None,
            actor: "admin:test".to_owned(),
            action: "CreateTenant",
            resource: "tenants/x".to_owned(),
            request_id: String::new(),
            before: None,
            after: Some(serde_json::json!({"slug": "acme"})),
        };
        Onboarding::default().attach(&mut record).unwrap();
        assert!(record.after.as_ref().unwrap().get("onboarding").is_none());
        let onboarding = Onboarding {
            initial_admin_email: Some("a@example.com".to_owned()),
            attributes: BTreeMap::from([("k".to_owned(), "v".to_owned())]),
        };
        onboarding.attach(&mut record).unwrap();
        assert_eq!(
            record.after.unwrap()["onboarding"],
            serde_json::json!({"initial_admin_email": "a@example.com", "attributes": {"k": "v"}})
        );
    }
}
