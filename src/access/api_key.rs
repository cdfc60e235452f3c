//! API keys: the value, its secret and its lifecycle rules.
//!
//! A key reads `tdk_{prefix}_{secret}`. The prefix (16 hex digits) names the
//! key in lists and logs and finds it on lookup; the secret is 256 bits from
//! the operating system's generator. Only the SHA-256 of the whole key is
//! kept, so the key exists in clear only in the answer that creates it.

use crate::common::ids::{ApiKeyId, TenantId};
use crate::error::{Error, FieldViolation, Result, Violations};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// What every key starts with, so leaked keys are easy to recognise.
pub const KEY_MARKER: &str = "tdk";
/// Random bytes in the public prefix.
const PREFIX_BYTES: usize = 8;
/// Random bytes in the secret: 256 bits.
const SECRET_BYTES: usize = 32;
/// The longest overlap a rotation may grant the old key.
pub const MAX_ROTATION_OVERLAP: chrono::Duration = chrono::Duration::days(30);

/// The scopes a key may hold.
/// [`crate::access::methods::METHODS`] says which methods each one opens.
pub const SCOPES: [&str; 12] = [
    "tenant:read",
    "domains:manage",
    "keys:manage",
    "audit:read",
    "config:read",
    "config:write",
    "quota:check",
    "quota:allocate",
    "usage:read",
    "usage:write",
    "events:read",
    "webhooks:manage",
];

/// Whether a key is accepted, at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKeyState {
    /// Accepted.
    Active,
    /// Past its expiry.
    Expired,
    /// Revoked.
    Revoked,
}

/// An API key as stored: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKey {
    /// The key id.
    pub id: ApiKeyId,
    /// The owning tenant.
    #[serde(skip)]
    pub tenant_id: TenantId,
    /// The public prefix (hex, without `tdk_`).
    pub prefix: String,
    /// SHA-256 of the whole key, hex; never leaves storage.
    #[serde(skip)]
    pub secret_sha256: String,
    /// What the key is for.
    pub display_name: String,
    /// What it may do.
    pub scopes: Vec<String>,
    /// When it was made.
    pub create_time: DateTime<Utc>,
    /// When it stops being accepted.
    pub expire_time: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoke_time: Option<DateTime<Utc>>,
    /// The key it replaced.
    pub rotated_from: Option<ApiKeyId>,
    /// When it was last accepted, as last written (uses are written in
    /// batches, so this may lag by the flush interval).
    #[serde(skip)]
    pub last_used_time: Option<DateTime<Utc>>,
}

/// The settable fields of a new key, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    /// What the key is for.
    pub display_name: String,
    /// Distinct known scopes, sorted.
    pub scopes: Vec<String>,
    /// When it stops being accepted.
    pub expire_time: Option<DateTime<Utc>>,
}

/// A key with its secret, as returned once.
#[derive(Debug, Clone)]
pub struct IssuedApiKey {
    /// The stored key.
    pub key: ApiKey,
    /// `tdk_{prefix}_{secret}`.
    pub secret: String,
}

fn random_hex(bytes: usize) -> Result<String> {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).map_err(|error| Error::internal(error.to_string()))?;
    Ok(crate::common::hex(&buffer))
}

/// SHA-256 of a whole key, hex.
pub fn hash_secret(secret: &str) -> String {
    crate::common::hex(&Sha256::digest(secret.as_bytes()))
}

/// Validates scopes: at least one, each known; returns them distinct and
/// sorted.
pub fn scopes(values: &[String], field: &str, violations: &mut Vec<FieldViolation>) -> Vec<String> {
    if values.is_empty() {
        violations.refuse(
            field,
            format!("is required: at least one of {}", SCOPES.join(", ")),
        );
    }
    for value in values {
        if !SCOPES.contains(&value.as_str()) {
            violations.refuse(
                field,
                format!("{value:?} is not a scope; scopes: {}", SCOPES.join(", ")),
            );
        }
    }
    let mut distinct = values.to_vec();
    distinct.sort();
    distinct.dedup();
    distinct
}

impl ApiKey {
    /// Makes a key for `tenant_id` with a fresh prefix and secret.
    pub fn issue(
        tenant_id: TenantId,
        new: NewApiKey,
        rotated_from: Option<ApiKeyId>,
        now: DateTime<Utc>,
    ) -> Result<IssuedApiKey> {
        let prefix = random_hex(PREFIX_BYTES)?;
        let secret = format!("{KEY_MARKER}_{prefix}_{}", random_hex(SECRET_BYTES)?);
        let key = ApiKey {
            id: ApiKeyId::from_uuid(crate::common::ids::new_v7_at(now)),
            tenant_id,
            prefix,
            secret_sha256: hash_secret(&secret),
            display_name: new.display_name,
            scopes: new.scopes,
            create_time: now,
            expire_time: new.expire_time,
            revoke_time: None,
            rotated_from,
            last_used_time: None,
        };
        Ok(IssuedApiKey { key, secret })
    }

    /// `tenants/{tenant id}/apiKeys/{key id}`.
    pub fn resource_name(&self) -> String {
        format!("{}/apiKeys/{}", self.tenant_id.resource_name(), self.id)
    }

    /// The state at `now`.
    pub fn state(&self, now: DateTime<Utc>) -> ApiKeyState {
        if self.revoke_time.is_some() {
            ApiKeyState::Revoked
        } else if self.expire_time.is_some_and(|expiry| expiry <= now) {
            ApiKeyState::Expired
        } else {
            ApiKeyState::Active
        }
    }

    /// The key revoked at `now`; `None` when it already is.
    pub fn revoke(&self, now: DateTime<Utc>) -> Option<Self> {
        if self.revoke_time.is_some() {
            return None;
        }
        Some(Self {
            revoke_time: Some(now),
            ..self.clone()
        })
    }

    /// The old key of a rotation, accepted for `overlap` more at most, and
    /// the fields of its successor. Only an active key can be rotated.
    pub fn rotate(
        &self,
        overlap: chrono::Duration,
        now: DateTime<Utc>,
    ) -> Result<(Self, NewApiKey)> {
        let refuse = |reason: &'static str, what: &str| {
            Error::failed_precondition(
                reason,
                "API_KEY_STATE",
                self.resource_name(),
                format!(
                    "API key {} is {what}; create a new key instead",
                    self.resource_name()
                ),
            )
        };
        match self.state(now) {
            ApiKeyState::Revoked => return Err(refuse("API_KEY_REVOKED", "revoked")),
            ApiKeyState::Expired => return Err(refuse("API_KEY_EXPIRED", "expired")),
            ApiKeyState::Active => {}
        }
        let overlap_end = now + overlap;
        let previous = Self {
            expire_time: Some(
                self.expire_time
                    .map_or(overlap_end, |expiry| expiry.min(overlap_end)),
            ),
            ..self.clone()
        };
        let successor = NewApiKey {
            display_name: self.display_name.clone(),
            scopes: self.scopes.clone(),
            expire_time: self.expire_time,
        };
        Ok((previous, successor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn key(now: DateTime<Utc>) -> IssuedApiKey {
        let new = NewApiKey {
            display_name: "ci".into(),
            scopes: vec!["config:read".into()],
            expire_time: None,
        };
        ApiKey::issue(TenantId::from_uuid(Uuid::now_v7()), new, None, now).unwrap()
    }

    #[test]
    fn issued_keys_carry_256_random_bits_and_only_their_hash_is_kept() {
        let now = Utc::now();
        let issued = key(now);
        let parts: Vec<&str> = issued.secret.splitn(3, '_').collect();
        assert_eq!(parts[0], "tdk");
        assert_eq!(parts[1], issued.key.prefix);
        assert_eq!(parts[2].len(), 64);
        assert!(parts[2].bytes().all(|byte| byte.is_ascii_hexdigit()));
        assert_eq!(issued.key.secret_sha256, hash_secret(&issued.secret));
        assert!(!format!("{:?}", serde_json::to_value(&issued.key).unwrap()).contains(parts[2]));
        assert_ne!(key(now).secret, issued.secret);
    }

    #[test]
    fn rotation_keeps_the_earlier_expiry_and_refuses_dead_keys() {
        let now = Utc::now();
        let issued = key(now).key;
        let (previous, successor) = issued.rotate(chrono::Duration::hours(1), now).unwrap();
        assert_eq!(previous.expire_time, Some(now + chrono::Duration::hours(1)));
        assert_eq!(successor.scopes, issued.scopes);
        let (again, _) = previous.rotate(chrono::Duration::days(2), now).unwrap();
        assert_eq!(again.expire_time, previous.expire_time);
        let (ended, _) = issued.rotate(chrono::Duration::zero(), now).unwrap();
        assert_eq!(ended.state(now), ApiKeyState::Expired);
        assert!(ended.rotate(chrono::Duration::zero(), now).is_err());
        let revoked = issued.revoke(now).unwrap();
        assert_eq!(revoked.state(now), ApiKeyState::Revoked);
        assert!(revoked.revoke(now).is_none());
        assert!(revoked.rotate(chrono::Duration::zero(), now).is_err());
    }

    #[test]
    fn scopes_must_be_known_and_present() {
        let mut violations = Vec::new();
        let sorted = scopes(
            &[
                "usage:write".into(),
                "config:read".into(),
                "usage:write".into(),
            ],
            "s",
            &mut violations,
        );
        assert!(violations.is_empty());
        assert_eq!(sorted, ["config:read", "usage:write"]);
        scopes(&[], "s", &mut violations);
        scopes(&["root".into()], "s", &mut violations);
        assert_eq!(violations.len(), 2);
    }
}
