//! Authentication, the gate's first step: an operator or service token,
//! a tenant API key or an end user's JWT, from the `authorization` header; none or unknown is
//! UNAUTHENTICATED before anything else is looked at.

use std::sync::Arc;

use crate::access::api_key::{ApiKey, ApiKeyState, KEY_MARKER, hash_secret};
use crate::access::caller::Caller;
use crate::access::gate::{Gate, key_caller, user};
use crate::access::tokens::{bearer_token, constant_time_eq, match_token};
use crate::error::{Error, Result};

fn unauthenticated(reason: &'static str, message: &str) -> Error {
    Error::Unauthenticated {
        reason,
        message: message.to_owned(),
    }
}

/// Refuses a key revoked or expired at `now`, with the reason.
pub(super) fn check_active(key: &ApiKey, now: chrono::DateTime<chrono::Utc>) -> Result<()> {
    match key.state(now) {
        ApiKeyState::Active => Ok(()),
        ApiKeyState::Revoked => Err(unauthenticated(
            "API_KEY_REVOKED",
            "the API key was revoked",
        )),
        ApiKeyState::Expired => Err(unauthenticated(
            "API_KEY_EXPIRED",
            "the API key has expired",
        )),
    }
}

impl Gate {
    pub(super) async fn authenticate(&self, authorization: Option<&str>) -> Result<Caller> {
        let Some(header) = authorization else {
            return Err(unauthenticated(
                "CREDENTIALS_MISSING",
                "send `authorization: Bearer <token or API key>`",
            ));
        };
        let token = bearer_token(header)?;
        if token.starts_with(KEY_MARKER) && token.as_bytes().get(KEY_MARKER.len()) == Some(&b'_') {
            return self.authenticate_key(token).await;
        }
        if let Some(name) = match_token(&self.inner.admin_tokens, token) {
            return Ok(Caller::Admin { name });
        }
        if let Some(name) = match_token(&self.inner.service_tokens, token) {
            return Ok(Caller::Service { name });
        }
        if user::is_jwt(token) && !self.inner.issuers.is_empty() {
            return self
                .authenticate_user(token)
                .await
                .map(|(caller, _)| caller);
        }
        Err(unauthenticated(
            "CREDENTIALS_INVALID",
            "the token is not valid",
        ))
    }

    async fn authenticate_key(&self, presented: &str) -> Result<Caller> {
        Ok(key_caller(&*self.verified_key(presented).await?))
    }

    /// The active key `presented` is, its use recorded; refused as
    /// UNAUTHENTICATED with the reason otherwise.
    pub(super) async fn verified_key(&self, presented: &str) -> Result<Arc<ApiKey>> {
        let invalid = || unauthenticated("CREDENTIALS_INVALID", "the API key is not valid");
        let prefix = presented
            .split('_')
            .nth(1)
            .filter(|prefix| prefix.len() == 16 && prefix.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(invalid)?;
        let key = self.key_by_prefix(prefix).await?.ok_or_else(invalid)?;
        if !constant_time_eq(
            hash_secret(presented).as_bytes(),
            key.secret_sha256.as_bytes(),
        ) {
            return Err(invalid());
        }
        let now = chrono::Utc::now();
        check_active(&key, now)?;
        self.inner.key_uses.record(key.tenant_id, key.id, now);
        Ok(key)
    }

    /// The key with `prefix`, through the cache (shared, not copied).
    pub(super) async fn key_by_prefix(&self, prefix: &str) -> Result<Option<Arc<ApiKey>>> {
        let keys = &self.inner.keys;
        self.inner
            .cache
            .keys
            .through(prefix, async || {
                Ok(keys.by_prefix(prefix).await?.map(Arc::new))
            })
            .await
    }
}
