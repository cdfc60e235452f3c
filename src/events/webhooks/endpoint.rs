//! Endpoints, deliveries and attempts as values, their resource names,
//! and a new endpoint's checks.
//!
//! Invariants: a URL is http or https with a host, at most
//! [`MAX_URL_CHARS`], without credentials; a filter names known types
//! only, short, sorted and once each; a name parses to exactly one
//! endpoint (`tenants/{tenant}/webhookEndpoints/{id}` or the fleet's
//! `webhookEndpoints/{id}`).

use chrono::{DateTime, Utc};
use reqwest::Url;
use uuid::Uuid;

use crate::common::ids::{TenantId, TenantRef, parse_canonical_uuid};
use crate::error::{Error, FieldViolation, Result, Violations};
use crate::store::outbox::{short_type, short_types};

/// The longest URL accepted, in characters.
pub const MAX_URL_CHARS: usize = 2000;
/// Most event types one endpoint may name.
pub const MAX_TYPES: usize = 50;
/// Most endpoints one tenant may have.
pub const MAX_TENANT_ENDPOINTS: u64 = 20;
/// Most fleet-wide endpoints.
pub const MAX_FLEET_ENDPOINTS: u64 = 100;
/// The collection of endpoints in a name.
pub const COLLECTION: &str = "webhookEndpoints";
/// The collection of deliveries under an endpoint.
pub const DELIVERIES: &str = "deliveries";

/// Whose endpoint it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner<T> {
    /// A tenant's: receives that tenant's events.
    Tenant(T),
    /// The fleet's: receives every event.
    Fleet,
}

/// An endpoint's name as a caller gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointName {
    /// The tenant as named, or the fleet.
    pub owner: Owner<TenantRef>,
    /// The endpoint's id.
    pub id: Uuid,
}

impl EndpointName {
    /// Parses `tenants/{tenant}/webhookEndpoints/{id}` or
    /// `webhookEndpoints/{id}` from `field`.
    pub fn parse(name: &str, field: &str) -> Result<Self> {
        let malformed = || {
            Error::invalid_field(
                field,
                "must be tenants/{tenant}/webhookEndpoints/{id} or webhookEndpoints/{id}",
            )
        };
        let (owner, rest) = match name.strip_prefix("tenants/") {
            Some(rest) => {
                let (tenant, rest) = rest.split_once('/').ok_or_else(malformed)?;
                let tenant = TenantRef::parse_name(&format!("tenants/{tenant}"), field)?;
                (Owner::Tenant(tenant), rest)
            }
            None => (Owner::Fleet, name),
        };
        let id = rest
            .strip_prefix(COLLECTION)
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or_else(malformed)?;
        Ok(Self {
            owner,
            id: parse_canonical_uuid(id, field)?,
        })
    }
}

/// A delivery's name: `{endpoint name}/deliveries/{sequence}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryName {
    /// The endpoint.
    pub endpoint: EndpointName,
    /// The event's sequence.
    pub sequence: i64,
}

impl DeliveryName {
    /// Parses a delivery name from `field`.
    pub fn parse(name: &str, field: &str) -> Result<Self> {
        let malformed =
            || Error::invalid_field(field, "must be {endpoint name}/deliveries/{event sequence}");
        let (endpoint, sequence) = name
            .rsplit_once(&format!("/{DELIVERIES}/"))
            .ok_or_else(malformed)?;
        let sequence: i64 = sequence.parse().map_err(|_| malformed())?;
        if sequence <= 0 {
            return Err(malformed());
        }
        Ok(Self {
            endpoint: EndpointName::parse(endpoint, field)?,
            sequence,
        })
    }
}

/// The name of the endpoint `id` of `tenant` (the fleet's when `None`).
pub fn endpoint_name(tenant: Option<TenantId>, id: Uuid) -> String {
    match tenant {
        Some(tenant) => format!("{}/{COLLECTION}/{id}", tenant.resource_name()),
        None => format!("{COLLECTION}/{id}"),
    }
}

/// An endpoint, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Its id.
    pub id: Uuid,
    /// Its tenant; `None` for a fleet-wide one.
    pub tenant_id: Option<TenantId>,
    /// Where events are posted.
    pub url: String,
    /// The short types it receives; empty for every type.
    pub event_types: Vec<String>,
    /// When it was created.
    pub create_time: DateTime<Utc>,
}

impl Endpoint {
    /// Its resource name.
    pub fn name(&self) -> String {
        endpoint_name(self.tenant_id, self.id)
    }

    /// What the audit trail records of it: never the secret.
    pub fn audit_snapshot(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name(),
            "url": self.url,
            "event_types": self.event_types,
            "create_time": self.create_time,
        })
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Not delivered yet.
    Pending,
    /// Answered with a 2xx.
    Delivered,
    /// Dead-lettered.
    Dead,
}

impl DeliveryState {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Delivered => "DELIVERED",
            Self::Dead => "DEAD",
        }
    }

    /// From storage.
    pub fn from_stored(text: &str) -> Result<Self> {
        match text {
            "PENDING" => Ok(Self::Pending),
            "DELIVERED" => Ok(Self::Delivered),
            "DEAD" => Ok(Self::Dead),
            other => Err(Error::internal(format!("unknown delivery state {other:?}"))),
        }
    }
}

/// One attempt to deliver an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// 1 for the first.
    pub attempt: i32,
    /// When it was made.
    pub time: DateTime<Utc>,
    /// The HTTP status answered, if one was.
    pub status: Option<i32>,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: i64,
}

/// One event's delivery to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The endpoint.
    pub endpoint_id: Uuid,
    /// The endpoint's tenant.
    pub tenant_id: Option<TenantId>,
    /// The event's sequence.
    pub sequence: i64,
    /// The event's CloudEvents id.
    pub event_id: Uuid,
    /// The event's subject.
    pub subject: String,
    /// Where it stands.
    pub state: DeliveryState,
    /// When the next attempt is due.
    pub next_attempt_time: DateTime<Utc>,
    /// Its attempts, oldest first.
    pub attempts: Vec<Attempt>,
}

impl Delivery {
    /// Its resource name.
    pub fn name(&self) -> String {
        format!(
            "{}/{DELIVERIES}/{}",
            endpoint_name(self.tenant_id, self.endpoint_id),
            self.sequence
        )
    }
}

/// A new endpoint's URL and filter, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEndpoint {
    /// Where events go.
    pub url: Url,
    /// The short types, sorted, once each.
    pub event_types: Vec<String>,
}

impl NewEndpoint {
    /// Checks `url` and `event_types`; fields are named under `prefix`.
    pub fn parse(url: &str, event_types: &[String], prefix: &str) -> Result<Self> {
        let mut violations: Vec<FieldViolation> = Vec::new();
        let url_field = format!("{prefix}.url");
        let parsed = check_url(url).map_err(|message| violations.refuse(&url_field, message));
        if event_types.len() > MAX_TYPES {
            violations.refuse(
                format!("{prefix}.event_types"),
                format!("names more than {MAX_TYPES} types"),
            );
        }
        let known = short_types();
        let mut types = Vec::new();
        for (index, given) in event_types.iter().take(MAX_TYPES).enumerate() {
            let short = short_type(given).unwrap_or(given);
            match known.iter().find(|known| **known == short) {
                Some(known) => types.push((*known).to_owned()),
                None => violations.refuse(
                    format!("{prefix}.event_types[{index}]"),
                    format!(
                        "is not an event type; types: {} (short, or dev.tenantd.{{type}}.v1)",
                        known.join(", ")
                    ),
                ),
            }
        }
        match parsed {
            Ok(url) if violations.is_empty() => {
                types.sort();
                types.dedup();
                Ok(Self {
                    url,
                    event_types: types,
                })
            }
            _ => Err(Error::InvalidArgument(violations)),
        }
    }
}

/// `url` as a webhook target, or why it cannot be one.
fn check_url(url: &str) -> std::result::Result<Url, String> {
    if url.is_empty() {
        return Err("is required".to_owned());
    }
    if url.chars().count() > MAX_URL_CHARS {
        return Err(format!("is longer than {MAX_URL_CHARS} characters"));
    }
    let parsed = Url::parse(url).map_err(|error| format!("is not a URL: {error}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("must be an http or https URL".to_owned());
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".to_owned());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not carry credentials".to_owned());
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_for_tenants_and_the_fleet() {
        let id = "0190a0b0-0000-7000-8000-000000000001";
        let tenant = "0190a0b0-0000-7000-8000-0000000000aa";
        let fleet = EndpointName::parse(&format!("webhookEndpoints/{id}"), "name").unwrap();
        assert_eq!(fleet.owner, Owner::Fleet);
        let own = EndpointName::parse(&format!("tenants/{tenant}/webhookEndpoints/{id}"), "name")
            .unwrap();
        assert!(matches!(own.owner, Owner::Tenant(TenantRef::Id(_))));
        let delivery = DeliveryName::parse(
            &format!("tenants/{tenant}/webhookEndpoints/{id}/deliveries/42"),
            "name",
        )
        .unwrap();
        assert_eq!(delivery.sequence, 42);
        for bad in [
            "",
            "webhookEndpoints/",
            "tenants/x",
            "other/1",
            &format!("webhookEndpoints/{id}/deliveries/-1"),
        ] {
            assert!(
                EndpointName::parse(bad, "name").is_err()
                    || DeliveryName::parse(bad, "name").is_err(),
                "{bad} parsed"
            );
        }
    }

    #[test]
    fn urls_must_be_http_with_a_host_and_filters_known_types() {
        for bad in [
            "",
            "ftp://example.com/",
            "file:///etc/passwd",
            "http://user:pw@example.com/",
            "not a url",
        ] {
            assert!(NewEndpoint::parse(bad, &[], "e").is_err(), "{bad} accepted");
        }
        let types = vec![
            "dev.tenantd.tenant.created.v1".to_owned(),
            "tenant.created".to_owned(),
        ];
        let new = NewEndpoint::parse("https://example.com/hook", &types, "e").unwrap();
        assert_eq!(new.event_types, vec!["tenant.created".to_owned()]);
        assert!(NewEndpoint::parse("https://example.com/", &["nope".to_owned()], "e").is_err());
    }
}
