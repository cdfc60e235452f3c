//! Quota overrides: one tenant's replacement limit for one quota of its
//! plan, with a reason and an optional expiry. Setting a limit below what
//! the tenant already uses (or removing an override whose plan limit is
//! below it) needs `force`, so nobody locks a tenant out by accident.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::access::{PlatformScope, TenantScope};
use crate::common::ids::TenantId;
use crate::error::{Error, Result};
use crate::quota::plan::QuotaKind;
use crate::quota::quotas::{QuotaOverride, Quotas, not_defined};
use crate::store::audit::Origin;
use crate::store::revision::{Audited, Stamps};
use crate::store::scope::Scope;
use crate::tenancy::{now, snapshot};

/// What SetQuotaOverride asks for, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideChange {
    /// The quota key.
    pub quota: String,
    /// The new limit; `None` is unlimited.
    pub limit: Option<i64>,
    /// Why.
    pub reason: String,
    /// When it stops applying.
    pub expire_time: Option<DateTime<Utc>>,
}

/// Whose overrides to list.
#[derive(Debug, Clone, Copy)]
pub enum OverridesOf {
    /// Every tenant's (`tenants/-`).
    AllTenants(PlatformScope),
    /// One tenant's.
    Tenant(TenantScope),
}

crate::store::revision::tenant_audited!(QuotaOverride, snapshot_override, tenant_id);

impl QuotaOverride {
    /// `tenants/{id}/quotaOverrides/{quota}`.
    pub fn resource_name(&self) -> String {
        format!(
            "{}/quotaOverrides/{}",
            self.tenant_id.resource_name(),
            self.quota
        )
    }

    /// Changes whenever the override does.
    pub fn etag(&self) -> String {
        let digest = Sha256::new()
            .chain_update(self.tenant_id.as_uuid().as_bytes())
            .chain_update(self.quota.as_bytes())
            .chain_update(self.stamps.revision.to_be_bytes())
            .finalize();
        crate::common::hex(&digest[..8])
    }
}

fn below_usage(name: &str, limit: i64, used: i64) -> Error {
    Error::failed_precondition(
        "LIMIT_BELOW_USAGE",
        "QUOTA_USAGE",
        name,
        format!(
            "the limit {limit} is below the {used} the tenant already uses; send force to apply it anyway"
        ),
    )
}

/// The override was changed by another writer between its read and this
/// write, which was then not made.
fn concurrent_modification(name: &str, doing: &str) -> Error {
    Error::concurrent_modification(format!("{name} changed while it was being {doing}; retry"))
}

/// The override `change` makes of `current` (none yet when `None`) at `now`.
fn next_override(
    tenant_id: TenantId,
    change: OverrideChange,
    current: Option<&QuotaOverride>,
    now: DateTime<Utc>,
) -> QuotaOverride {
    QuotaOverride {
        tenant_id,
        quota: change.quota,
        limit: change.limit,
        reason: change.reason,
        expire_time: change.expire_time,
        stamps: Stamps::after(current.map(|found| found.stamps), now),
    }
}

impl Quotas {
    /// Refuses a change of a quota the tenant's plan does not define, or
    /// one that would expire by `now`.
    async fn check_change(
        &self,
        scope: &TenantScope,
        change: &OverrideChange,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let (plan, _) = self.limits(scope).await?;
        if plan.quota(&change.quota).is_none() {
            return Err(not_defined(&plan, &change.quota));
        }
        if change.expire_time.is_some_and(|expiry| expiry <= now) {
            return Err(Error::invalid_field(
                "quota_override.expire_time",
                "must be in the future",
            ));
        }
        Ok(())
    }

    /// What the tenant uses of `quota` now, for quotas whose usage outlives
    /// a moment (PERIODIC and ALLOCATION); `None` for RATE quotas.
    async fn lasting_usage(&self, scope: &TenantScope, quota: &str) -> Result<Option<i64>> {
        let (_, outcomes) = self.status(scope, &[quota.to_owned()]).await?;
        Ok(outcomes
            .first()
            .filter(|outcome| outcome.limit.definition.kind != QuotaKind::Rate)
            .map(|outcome| outcome.outcome.used))
    }

    /// Sets (creates or replaces) the tenant's override of `change.quota`.
    pub async fn set_override(
        &self,
        scope: &TenantScope,
        origin: &Origin,
        change: OverrideChange,
        etag: Option<&str>,
        force: bool,
    ) -> Result<QuotaOverride> {
        let now = now();
        self.check_change(scope, &change, now).await?;
        let tenant_id = scope.tenant_id();
        let current = self
            .store
            .find_quota_override(Scope::from(scope), tenant_id, &change.quota)
            .await?;
        let name = format!(
            "{}/quotaOverrides/{}",
            tenant_id.resource_name(),
            change.quota
        );
        if let Some(etag) = etag
            && current.as_ref().is_none_or(|found| found.etag() != etag)
        {
            return Err(Error::stale(&name, etag));
        }
        if let (Some(limit), false) = (change.limit, force)
            && let Some(used) = self.lasting_usage(scope, &change.quota).await?
            && used > limit
        {
            return Err(below_usage(&name, limit, used));
        }
        let next = next_override(tenant_id, change, current.as_ref(), now);
        let audit = next.audit(origin, "SetQuotaOverride", current.as_ref())?;
        let previous = current.as_ref().map(|found| found.stamps.revision);
        if !self
            .store
            .put_quota_override(Scope::from(scope), &next, previous, audit)
            .await?
        {
            return Err(concurrent_modification(&name, "set"));
        }
        Ok(next)
    }

    /// Removes the tenant's override of `quota`: the plan's limit applies
    /// again.
    pub async fn delete_override(
        &self,
        scope: &TenantScope,
        origin: &Origin,
        quota: &str,
        etag: Option<&str>,
        force: bool,
    ) -> Result<()> {
        let tenant_id = scope.tenant_id();
        let name = format!("{}/quotaOverrides/{quota}", tenant_id.resource_name());
        let current = self
            .store
            .find_quota_override(Scope::from(scope), tenant_id, quota)
            .await?
            .ok_or_else(|| Error::NotFound {
                kind: "quota_override",
                name: name.clone(),
            })?;
        if let Some(etag) = etag
            && current.etag() != etag
        {
            return Err(Error::stale(&name, etag));
        }
        if !force {
            let (plan, _) = self.limits(scope).await?;
            let plan_limit = plan
                .quota(quota)
                .and_then(|definition| (!definition.unlimited).then_some(definition.limit));
            if let Some(limit) = plan_limit
                && let Some(used) = self.lasting_usage(scope, quota).await?
                && used > limit
            {
                return Err(below_usage(&name, limit, used));
            }
        }
        let audit = current.removal(origin, "DeleteQuotaOverride")?;
        if !self
            .store
            .delete_quota_override(Scope::from(scope), &current, audit)
            .await?
        {
            return Err(concurrent_modification(&name, "deleted"));
        }
        Ok(())
    }

    /// A page of overrides, ordered by tenant then quota, and the next
    /// page's token.
    pub async fn list_overrides(
        &self,
        of: OverridesOf,
        page_size: u64,
        page_token: &str,
    ) -> Result<(Vec<QuotaOverride>, String)> {
        let (scope, tenant_id) = match of {
            OverridesOf::AllTenants(platform) => (Scope::from(&platform), None),
            OverridesOf::Tenant(scope) => (Scope::from(&scope), Some(scope.tenant_id())),
        };
        let parent = tenant_id.map(|id| id.to_string()).unwrap_or_default();
        let list = async |after: Option<String>, limit| {
            let after = after.map(|key| parse_position(&key)).transpose()?;
            self.store
                .list_quota_overrides(scope, tenant_id, after, limit)
                .await
        };
        let pages = self.store.page_tokens();
        pages
            .page(&[&parent], page_size, page_token, list, |row| {
                format!("{}/{}", row.tenant_id, row.quota)
            })
            .await
    }
}

fn parse_position(key: &str) -> Result<(TenantId, String)> {
    let (tenant, quota) = key
        .split_once('/')
        .ok_or_else(|| Error::invalid_field("page_token", "is not a token this list gave"))?;
    Ok((TenantId::parse(tenant, "page_token")?, quota.to_owned()))
}

fn snapshot_override(value: &QuotaOverride) -> Result<serde_json::Value> {
    snapshot(&serde_json::json!({
        "quota": value.quota,
        "limit": value.limit,
        "reason": value.reason,
        "expire_time": value.expire_time,
    }))
}
