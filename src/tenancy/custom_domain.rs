//! Custom domains: hostnames through which a tenant is reached once its
//! owner has proved control of them with a DNS TXT record.
//!
//! A PENDING domain is a claim, not a reservation: several tenants may
//! claim one hostname, each with its own challenge, and the first to prove
//! control by DNS verifies it, releasing the others' claims. A claim can
//! be verified until its expiry (the directory's claim TTL after it was
//! made); only one tenant may hold a hostname VERIFIED.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::common::ids::TenantId;

/// The DNS label under which the verification TXT record is published.
pub const CHALLENGE_LABEL: &str = "_tenantd-challenge";
/// The prefix of the TXT value, followed by the token.
pub const CHALLENGE_VALUE_PREFIX: &str = "tenantd-verification=";

/// Verification state of a custom domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DomainState {
    /// Waiting for verification.
    Pending,
    /// Verified; resolves to its tenant.
    Verified,
}

impl DomainState {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DomainState::Pending => "PENDING",
            DomainState::Verified => "VERIFIED",
        }
    }

    /// Parses the stored spelling; unknown values read as pending, the safe
    /// side.
    pub fn parse(text: &str) -> Self {
        if text == "VERIFIED" {
            DomainState::Verified
        } else {
            DomainState::Pending
        }
    }
}

/// A custom domain of a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomDomain {
    /// Row id.
    #[serde(skip)]
    pub id: Uuid,
    /// The owning tenant.
    #[serde(skip)]
    pub tenant_id: TenantId,
    /// ASCII hostname.
    pub hostname: String,
    /// Verification state.
    pub state: DomainState,
    /// The token to publish.
    #[serde(skip)]
    pub verification_token: String,
    /// When it was added.
    pub create_time: DateTime<Utc>,
    /// When it was verified.
    pub verify_time: Option<DateTime<Utc>>,
    /// When a PENDING claim expires; `None` once verified, and as read from
    /// storage, until the directory applies its claim TTL.
    #[serde(skip)]
    pub expire_time: Option<DateTime<Utc>>,
}

impl CustomDomain {
    /// `tenants/{id}/domains/{hostname}`.
    pub fn resource_name(&self) -> String {
        format!(
            "{}/domains/{}",
            self.tenant_id.resource_name(),
            self.hostname
        )
    }

    /// The same domain with the expiry of a claim that lasts `ttl`.
    pub fn with_claim_ttl(mut self, ttl: chrono::Duration) -> Self {
        self.expire_time = match self.state {
            DomainState::Pending => self.create_time.checked_add_signed(ttl),
            DomainState::Verified => None,
        };
        self
    }

    /// Whether this is a PENDING claim whose expiry has passed at `now`.
    pub fn claim_expired(&self, now: DateTime<Utc>) -> bool {
        self.state == DomainState::Pending && self.expire_time.is_some_and(|expiry| expiry <= now)
    }

    /// The DNS name that must carry the TXT record.
    pub fn challenge_record_name(&self) -> String {
        format!("{CHALLENGE_LABEL}.{}", self.hostname)
    }

    /// The TXT value that proves control.
    pub fn challenge_record_value(&self) -> String {
        format!("{CHALLENGE_VALUE_PREFIX}{}", self.verification_token)
    }
}
