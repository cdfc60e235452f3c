//! Typed ids and the resource names built from them.
//!
//! A tenant is named `tenants/{uuid}` or, as an alias accepted wherever a
//! name is read, `tenants/slug:{slug}`. Names are parsed here and nowhere
//! else, so every layer past the gRPC boundary works with typed values.

use std::fmt;
use std::sync::{LazyLock, Mutex};

use chrono::{DateTime, Utc};
use uuid::{ContextV7, Timestamp, Uuid};

use crate::error::{Error, Result};

/// Keeps UUIDv7s made in the same millisecond ordered by creation.
static V7_CONTEXT: LazyLock<Mutex<ContextV7>> = LazyLock::new(|| Mutex::new(ContextV7::new()));

/// A new UUIDv7 whose embedded time is `at`, ordered after every UUIDv7 this
/// process made before for the same millisecond.
pub fn new_v7_at(at: DateTime<Utc>) -> Uuid {
    let seconds = u64::try_from(at.timestamp()).unwrap_or(0);
    // A poisoned lock still holds a usable counter.
    let context = V7_CONTEXT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    Uuid::new_v7(Timestamp::from_unix(
        &*context,
        seconds,
        at.timestamp_subsec_nanos(),
    ))
}

/// The smallest UUIDv7 whose embedded time is at or after `at` (millisecond
/// precision): a lower bound for "created at or after".
pub fn min_v7_at_or_after(at: DateTime<Utc>) -> Uuid {
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    let has_sub_millis = !at.timestamp_subsec_nanos().is_multiple_of(1_000_000);
    let millis = millis + u64::from(has_sub_millis);
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    bytes[6] = 0x70;
    bytes[8] = 0x80;
    Uuid::from_bytes(bytes)
}

/// The id of a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(Uuid);

impl TenantId {
    /// Wraps a UUID known to be a tenant id (read from storage).
    pub fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }

    /// Parses a caller-supplied id; only the canonical hyphenated form is
    /// accepted so one tenant has one name.
    pub fn parse(text: &str, field: &str) -> Result<Self> {
        parse_canonical_uuid(text, field).map(Self)
    }

    /// The UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }

    /// The resource name, `tenants/{id}`.
    pub fn resource_name(&self) -> String {
        format!("tenants/{}", self.0)
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(formatter)
    }
}

/// A request's optional `request_id`: none when empty, otherwise a UUID in
/// canonical form, which makes a create idempotent.
pub fn request_id(text: &str) -> Result<Option<Uuid>> {
    (!text.is_empty())
        .then(|| parse_canonical_uuid(text, "request_id"))
        .transpose()
}

/// Parses a UUID in canonical lowercase hyphenated form.
pub fn parse_canonical_uuid(text: &str, field: &str) -> Result<Uuid> {
    match Uuid::try_parse(text) {
        Ok(uuid) if uuid.hyphenated().to_string() == text => Ok(uuid),
        Ok(_) => Err(Error::invalid_field(
            field,
            "must be a UUID in lowercase hyphenated form",
        )),
        Err(_) => Err(Error::invalid_field(field, "must be a UUID")),
    }
}

/// How a request names a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantRef {
    /// `tenants/{uuid}`
    Id(TenantId),
    /// `tenants/slug:{slug}`
    Slug(String),
    /// `tenants/external:{external_id}`
    External(String),
}

impl TenantRef {
    /// Parses `tenants/{uuid}` or `tenants/slug:{slug}` from `field`.
    pub fn parse_name(name: &str, field: &str) -> Result<Self> {
        let Some(segment) = name.strip_prefix("tenants/") else {
            return Err(Error::invalid_field(
                field,
                "must be a tenant name, tenants/{id}, tenants/slug:{slug} or tenants/external:{external_id}",
            ));
        };
        Self::parse_segment(segment, field)
    }

    fn parse_segment(segment: &str, field: &str) -> Result<Self> {
        if let Some(external_id) = segment.strip_prefix("external:") {
            if external_id.is_empty() || external_id.contains('/') {
                return Err(Error::invalid_field(
                    field,
                    "has an empty or malformed external id",
                ));
            }
            return Ok(TenantRef::External(external_id.to_owned()));
        }
        if let Some(slug) = segment.strip_prefix("slug:") {
            if slug.is_empty() || slug.contains('/') {
                return Err(Error::invalid_field(
                    field,
                    "has an empty or malformed slug",
                ));
            }
            return Ok(TenantRef::Slug(slug.to_owned()));
        }
        if segment.is_empty() || segment.contains('/') {
            return Err(Error::invalid_field(
                field,
                "must be a tenant name, tenants/{id}, tenants/slug:{slug} or tenants/external:{external_id}",
            ));
        }
        TenantId::parse(segment, field).map(TenantRef::Id)
    }

    /// The name as the caller wrote it, for NOT_FOUND messages.
    pub fn display_name(&self) -> String {
        match self {
            TenantRef::Id(id) => id.resource_name(),
            TenantRef::Slug(slug) => format!("tenants/slug:{slug}"),
            TenantRef::External(external_id) => format!("tenants/external:{external_id}"),
        }
    }
}

/// Splits `tenants/{tenant}/{collection}/{id}` into the tenant and the raw
/// id segment, which is non-empty and has no `/`.
fn child_name<'a>(
    name: &'a str,
    collection: &str,
    id: &str,
    field: &str,
) -> Result<(TenantRef, &'a str)> {
    let malformed = || {
        Error::invalid_field(
            field,
            format!("must be tenants/{{tenant}}/{collection}/{{{id}}}"),
        )
    };
    let rest = name.strip_prefix("tenants/").ok_or_else(malformed)?;
    let (tenant, segment) = rest
        .split_once(&format!("/{collection}/"))
        .ok_or_else(malformed)?;
    if segment.is_empty() || segment.contains('/') {
        return Err(malformed());
    }
    Ok((TenantRef::parse_segment(tenant, field)?, segment))
}

/// The name of a custom domain, `tenants/{tenant}/domains/{hostname}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainName {
    /// The tenant the domain belongs to.
    pub tenant: TenantRef,
    /// The hostname segment, as written (validated later).
    pub hostname: String,
}

impl DomainName {
    /// Parses `tenants/{tenant}/domains/{hostname}` from `field`.
    pub fn parse(name: &str, field: &str) -> Result<Self> {
        let (tenant, hostname) = child_name(name, "domains", "hostname", field)?;
        Ok(Self {
            tenant,
            hostname: hostname.to_owned(),
        })
    }
}

/// The id of an API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct ApiKeyId(Uuid);

impl ApiKeyId {
    /// Wraps a UUID known to be an API key id (read from storage).
    pub fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }

    /// The UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for ApiKeyId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(formatter)
    }
}

/// The name of an API key, `tenants/{tenant}/apiKeys/{key id}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyName {
    /// The tenant the key belongs to.
    pub tenant: TenantRef,
    /// The key.
    pub key_id: ApiKeyId,
}

impl ApiKeyName {
    /// Parses `tenants/{tenant}/apiKeys/{key id}` from `field`.
    pub fn parse(name: &str, field: &str) -> Result<Self> {
        let (tenant, key) = child_name(name, "apiKeys", "key id", field)?;
        Ok(Self {
            tenant,
            key_id: ApiKeyId(parse_canonical_uuid(key, field)?),
        })
    }
}

/// The name of a quota override, `tenants/{tenant}/quotaOverrides/{quota}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaOverrideName {
    /// The tenant.
    pub tenant: TenantRef,
    /// The quota key.
    pub quota: String,
}

impl QuotaOverrideName {
    /// Parses the name in `field`.
    pub fn parse(name: &str, field: &str) -> Result<Self> {
        let (tenant, quota) = child_name(name, "quotaOverrides", "quota", field)?;
        Ok(Self {
            tenant,
            quota: quota.to_owned(),
        })
    }
}

/// The parent of an audit-event listing: one tenant, or all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditParent {
    /// `tenants/-`
    AllTenants,
    /// `tenants/{tenant}`
    Tenant(TenantRef),
}

impl AuditParent {
    /// Parses `tenants/-` or a tenant name from `field`.
    pub fn parse(name: &str, field: &str) -> Result<Self> {
        if name == "tenants/-" {
            return Ok(AuditParent::AllTenants);
        }
        TenantRef::parse_name(name, field).map(AuditParent::Tenant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_names_parse_by_id_and_by_slug() {
        let id = "0193a3c4-1111-7000-8000-000000000001";
        assert_eq!(
            TenantRef::parse_name(&format!("tenants/{id}"), "name").unwrap(),
            TenantRef::Id(TenantId::parse(id, "name").unwrap())
        );
        assert_eq!(
            TenantRef::parse_name("tenants/slug:acme", "name").unwrap(),
            TenantRef::Slug("acme".into())
        );
        assert_eq!(
            TenantRef::parse_name("tenants/external:org_42", "name").unwrap(),
            TenantRef::External("org_42".into())
        );
        assert!(TenantRef::parse_name("tenants/external:", "name").is_err());
        for bad in [
            "",
            "tenants/",
            "tenant/x",
            "tenants/not-a-uuid",
            "tenants/slug:",
            "tenants/a/b",
        ] {
            assert!(TenantRef::parse_name(bad, "name").is_err(), "{bad}");
        }
        let upper = "0193A3C4-1111-7000-8000-000000000001";
        assert!(TenantRef::parse_name(&format!("tenants/{upper}"), "name").is_err());
    }

    #[test]
    fn api_key_names_split_tenant_and_key() {
        let key = "0193a3c4-1111-7000-8000-000000000002";
        let parsed =
            ApiKeyName::parse(&format!("tenants/slug:acme/apiKeys/{key}"), "name").unwrap();
        assert_eq!(parsed.tenant, TenantRef::Slug("acme".into()));
        assert_eq!(parsed.key_id.to_string(), key);
        for bad in [
            "tenants/slug:acme/apiKeys/",
            "tenants/slug:acme/apikeys/x",
            "tenants/slug:acme/apiKeys/x/y",
        ] {
            assert!(ApiKeyName::parse(bad, "name").is_err(), "{bad}");
        }
    }

    #[test]
    fn domain_names_split_tenant_and_hostname() {
        let parsed =
            DomainName::parse("tenants/slug:acme/domains/shop.example.com", "name").unwrap();
        assert_eq!(parsed.tenant, TenantRef::Slug("acme".into()));
        assert_eq!(parsed.hostname, "shop.example.com");
        assert!(DomainName::parse("tenants/slug:acme/domains/", "name").is_err());
    }

    #[test]
    fn v7_lower_bound_orders_before_ids_made_at_that_time() {
        let at = Utc::now();
        let id = new_v7_at(at);
        let truncated = DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap();
        assert!(min_v7_at_or_after(truncated) <= id);
        assert!(min_v7_at_or_after(at + chrono::Duration::milliseconds(1)) > id);
    }
}
