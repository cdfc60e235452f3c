//! The API keys of a tenant: creating, listing, revoking and rotating them,
//! and the gate's two uses of them (a key by its prefix, its last use).
//! Every change is audited without the secret or its hash.

use chrono::{DateTime, Utc};

use crate::access::api_key::{ApiKey, IssuedApiKey, MAX_ROTATION_OVERLAP, NewApiKey};
use crate::access::caller::{PlatformScope, TenantScope};
use crate::common::ids::{ApiKeyId, ApiKeyName, TenantId};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::audit::Origin;
use crate::store::revision::Audited;
use crate::store::scope::Scope;
use crate::tenancy::{Tenants, now, snapshot};

/// A rotation's outcome: the new key with its secret, and the old key.
#[derive(Debug, Clone)]
pub struct Rotation {
    /// The new key.
    pub issued: IssuedApiKey,
    /// The old key with its shortened lifetime.
    pub previous: ApiKey,
}

// A key's writes are audited in its tenant's trail, without the secret's
// hash (its snapshot skips it).
crate::store::revision::tenant_audited!(ApiKey, snapshot, tenant_id);

/// Every tenant's API keys; cheap to clone.
#[derive(Clone)]
pub struct ApiKeys {
    /// Where keys are kept.
    store: Store,
    /// The tenants keys belong to: a key is made only for a live one.
    tenants: Tenants,
}

impl ApiKeys {
    /// The keys kept in `store`, of the tenants of `tenants`.
    pub fn new(store: Store, tenants: Tenants) -> Self {
        Self { store, tenants }
    }

    /// The key whose public prefix is `prefix`, whichever tenant holds it:
    /// read in the platform scope, since the key is what says the tenant.
    pub(crate) async fn by_prefix(&self, prefix: &str) -> Result<Option<ApiKey>> {
        let platform = Scope::from(&PlatformScope::system());
        self.store.find_api_key_by_prefix(platform, prefix).await
    }

    /// Writes that `key_id` of `tenant_id` was last accepted at `at`, in
    /// that tenant's scope.
    pub(crate) async fn record_use(
        &self,
        tenant_id: TenantId,
        key_id: ApiKeyId,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let at = crate::tenancy::truncate_to_micros(at);
        self.store
            .record_api_key_use(Scope::Tenant(tenant_id), tenant_id, key_id, at)
            .await
    }

    /// Issues a key for a live tenant. `new.expire_time` must be in the future.
    pub async fn create_api_key(
        &self,
        scope: &TenantScope,
        origin: &Origin,
        new: NewApiKey,
    ) -> Result<IssuedApiKey> {
        let now = now();
        if new.expire_time.is_some_and(|expiry| expiry <= now) {
            return Err(Error::invalid_field(
                "api_key.expire_time",
                "must be in the future",
            ));
        }
        let tenant = self.tenants.live_tenant(scope, "add an API key to").await?;
        let issued = ApiKey::issue(tenant.id, new, None, now)?;
        let audit = issued.key.audit(origin, "CreateApiKey", None)?;
        self.store
            .insert_api_key(scope.into(), &issued.key, None, audit)
            .await?;
        Ok(issued)
    }

    /// A page of the tenant's keys, oldest first, and the next token.
    pub async fn list_api_keys(
        &self,
        scope: &TenantScope,
        show_revoked: bool,
        page_size: u64,
        page_token: &str,
    ) -> Result<(Vec<ApiKey>, String)> {
        let tenant = self.tenants.get(scope).await?;
        let tenant_name = tenant.id.resource_name();
        let query = [
            tenant_name.as_str(),
            if show_revoked { "revoked" } else { "" },
        ];
        let list = async |after: Option<String>, limit| {
            let after = after
                .map(|key| crate::common::ids::parse_canonical_uuid(&key, "page_token"))
                .transpose()?
                .map(ApiKeyId::from_uuid);
            self.store
                .list_api_keys(scope.into(), tenant.id, show_revoked, after, limit)
                .await
        };
        let key_of = |key: &ApiKey| key.id.to_string();
        self.store
            .page_tokens()
            .page(&query, page_size, page_token, list, key_of)
            .await
    }

    /// Revokes a key; a revoked key is returned as it is.
    pub async fn revoke_api_key(
        &self,
        scope: &TenantScope,
        origin: &Origin,
        name: &ApiKeyName,
    ) -> Result<ApiKey> {
        let key = self.find_api_key(scope, name).await?;
        let Some(revoked) = key.revoke(now()) else {
            return Ok(key);
        };
        let audit = revoked.audit(origin, "RevokeApiKey", Some(&key))?;
        if !self
            .store
            .revoke_api_key(scope.into(), &revoked, audit)
            .await?
        {
            // Revoked meanwhile: answer with what is there now.
            return self.find_api_key(scope, name).await;
        }
        Ok(revoked)
    }

    /// Replaces an active key with a new one of the same scopes; the old one
    /// stays accepted for `overlap` (0 to 30 days).
    pub async fn rotate_api_key(
        &self,
        scope: &TenantScope,
        origin: &Origin,
        name: &ApiKeyName,
        overlap: chrono::Duration,
    ) -> Result<Rotation> {
        if overlap < chrono::Duration::zero() || overlap > MAX_ROTATION_OVERLAP {
            return Err(Error::invalid_field(
                "overlap",
                "must be between 0s and 30 days",
            ));
        }
        let key = self.find_api_key(scope, name).await?;
        let tenant = self
            .tenants
            .live_tenant(scope, "rotate an API key of")
            .await?;
        let now = now();
        let (previous, successor) = key.rotate(overlap, now)?;
        let issued = ApiKey::issue(tenant.id, successor, Some(key.id), now)?;
        let audit = issued.key.audit(origin, "RotateApiKey", Some(&key))?;
        if !self
            .store
            .insert_api_key(scope.into(), &issued.key, Some((&key, &previous)), audit)
            .await?
        {
            return Err(Error::concurrent_modification(format!(
                "API key {} changed during the rotation; retry",
                key.resource_name()
            )));
        }
        Ok(Rotation { issued, previous })
    }

    async fn find_api_key(&self, scope: &TenantScope, name: &ApiKeyName) -> Result<ApiKey> {
        let tenant = self.tenants.get(scope).await?;
        self.store
            .find_api_key(scope.into(), tenant.id, name.key_id)
            .await?
            .ok_or_else(|| Error::NotFound {
                kind: "api_key",
                name: format!("{}/apiKeys/{}", name.tenant.display_name(), name.key_id),
            })
    }
}
