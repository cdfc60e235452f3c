//! Flag overrides: set, list and delete the override of a flag for a plan
//! (fleet-wide, operators only) or for a tenant (reached through its
//! [`TenantScope`]), audited in the same transaction.
//!
//! A plan override's audit record belongs to no tenant, so it is announced
//! as a change of everything; a tenant override's belongs to its tenant,
//! so only that tenant's cached overrides are dropped.

use crate::access::{PlatformScope, TenantScope};
use crate::error::{Error, Result};
use crate::flags::directory::Flags;
use crate::flags::flag::{FlagOverride, OverrideOwner, OverrideSpec};
use crate::flags::store::OverrideSet;
use crate::flags::validate;
use crate::store::audit::{AuditRecord, Origin};
use crate::store::revision::Stamps;
use crate::store::scope::Scope;
use crate::tenancy::now;

/// Whose override a call changes, with the scope that may change it.
#[derive(Debug, Clone, Copy)]
pub enum OwnerScope<'a> {
    /// A plan's, by an operator.
    Plan(&'a PlatformScope, &'a str),
    /// A tenant's.
    Tenant(&'a TenantScope),
}

impl OwnerScope<'_> {
    fn scope(&self) -> Scope {
        match self {
            OwnerScope::Plan(platform, _) => Scope::from(*platform),
            OwnerScope::Tenant(tenant) => Scope::from(*tenant),
        }
    }

    fn owner(&self) -> OverrideOwner {
        match self {
            OwnerScope::Plan(_, plan) => OverrideOwner::Plan((*plan).to_owned()),
            OwnerScope::Tenant(tenant) => OverrideOwner::Tenant(tenant.tenant_id()),
        }
    }

    fn record(
        &self,
        origin: &Origin,
        action: &'static str,
        name: String,
        change: (Option<serde_json::Value>, Option<serde_json::Value>),
    ) -> AuditRecord {
        let (before, after) = change;
        match self {
            OwnerScope::Plan(..) => AuditRecord::platform(origin, action, name, before, after),
            OwnerScope::Tenant(tenant) => {
                AuditRecord::new(origin, action, tenant.tenant_id(), name, before, after)
            }
        }
    }
}

fn override_not_found(owner: &OverrideOwner, flag: &str) -> Error {
    Error::NotFound {
        kind: "flag_override",
        name: format!("{}/flagOverrides/{flag}", owner.resource_name()),
    }
}

/// Refuses an `etag` the `current` override of `flag` by `owner` does not
/// have; an override that no longer exists has none.
fn check_override_etag(
    owner: &OverrideOwner,
    flag: &str,
    current: Option<&FlagOverride>,
    etag: Option<&str>,
) -> Result<()> {
    match (current, etag) {
        (Some(found), _) => found.check_etag(etag),
        (None, Some(etag)) => Err(Error::Aborted {
            reason: "ETAG_MISMATCH",
            message: format!(
                "{}/flagOverrides/{flag} no longer exists, so it cannot have etag {etag:?}",
                owner.resource_name()
            ),
        }),
        (None, None) => Ok(()),
    }
}

impl Flags {
    /// Creates or replaces the override of `flag` by `owner`; with `etag`,
    /// only while the override exists and still has it.
    pub async fn set_override(
        &self,
        owner: OwnerScope<'_>,
        origin: &Origin,
        (flag, etag): (&str, Option<&str>),
        spec: OverrideSpec,
    ) -> Result<FlagOverride> {
        let scope = owner.scope();
        self.check_override(owner, flag, &spec).await?;
        let current = self
            .store
            .find_flag_override(scope.clone(), &owner.owner(), flag)
            .await?;
        check_override_etag(&owner.owner(), flag, current.as_ref(), etag)?;
        let now = now();
        let next = FlagOverride {
            owner: owner.owner(),
            flag: flag.to_owned(),
            spec,
            stamps: Stamps::after(current.as_ref().map(|found| found.stamps), now),
        };
        let record = owner.record(
            origin,
            "SetFlagOverride",
            next.resource_name(),
            (
                current.as_ref().map(FlagOverride::snapshot),
                Some(next.snapshot()),
            ),
        );
        let previous = current.as_ref().map(|found| found.stamps.revision);
        if !self
            .store
            .put_flag_override(scope, &next, previous, record)
            .await?
        {
            return Err(Error::changed_meanwhile(&next.resource_name()));
        }
        Ok(next)
    }

    /// Refuses `spec` for `flag` by `owner` unless the flag exists, the
    /// plan does (for a plan's override) and the spec names only variants
    /// of the flag.
    async fn check_override(
        &self,
        owner: OwnerScope<'_>,
        flag: &str,
        spec: &OverrideSpec,
    ) -> Result<()> {
        let definition = self.get(flag).await?;
        if let OwnerScope::Plan(_, plan) = owner
            && self
                .store
                .find_stored::<crate::quota::Plan>(owner.scope(), plan)
                .await?
                .is_none()
        {
            return Err(Error::NotFound {
                kind: "plan",
                name: format!("plans/{plan}"),
            });
        }
        let mut violations = Vec::new();
        let known = |variant: &str| definition.spec.variants.contains_key(variant);
        validate::override_spec(spec, &known, "flag_override", &mut violations);
        if !violations.is_empty() {
            return Err(Error::InvalidArgument(violations));
        }
        Ok(())
    }

    /// Removes the override of `flag` by `owner`, if it still has `etag`
    /// (when given).
    pub async fn delete_override(
        &self,
        owner: OwnerScope<'_>,
        origin: &Origin,
        flag: &str,
        etag: Option<&str>,
    ) -> Result<()> {
        let scope = owner.scope();
        let current = self
            .store
            .find_flag_override(scope.clone(), &owner.owner(), flag)
            .await?
            .ok_or_else(|| override_not_found(&owner.owner(), flag))?;
        current.check_etag(etag)?;
        let record = owner.record(
            origin,
            "DeleteFlagOverride",
            current.resource_name(),
            (Some(current.snapshot()), None),
        );
        if !self
            .store
            .delete_flag_override(scope, &current, record)
            .await?
        {
            return Err(Error::changed_meanwhile(&current.resource_name()));
        }
        Ok(())
    }

    /// One page of the overrides of `set` (of `flag` only, when given),
    /// by owner then flag key, and the next page token.
    pub async fn list_overrides(
        &self,
        scope: Scope,
        (set, flag): (&OverrideSet, Option<&str>),
        page_size: u64,
        page_token: &str,
    ) -> Result<(Vec<FlagOverride>, String)> {
        let parent = match set {
            OverrideSet::AllPlans => "plans/-".to_owned(),
            OverrideSet::AllTenants => "tenants/-".to_owned(),
            OverrideSet::One(owner) => owner.resource_name(),
        };
        let list = async |after: Option<String>, limit| {
            let after = after
                .map(|token| match token.split_once('\n') {
                    Some((owner, key)) => Ok((owner.to_owned(), key.to_owned())),
                    None => Err(Error::invalid_field(
                        "page_token",
                        "is not a page token issued by this service",
                    )),
                })
                .transpose()?;
            self.store
                .list_flag_overrides(scope, set, flag, after, Some(limit))
                .await
        };
        let query = [parent.as_str(), flag.unwrap_or_default()];
        let pages = self.store.page_tokens();
        pages
            .page(&query, page_size, page_token, list, |found| {
                let owner = match &found.owner {
                    OverrideOwner::Plan(plan) => plan.clone(),
                    OverrideOwner::Tenant(id) => id.to_string(),
                };
                format!("{owner}\n{}", found.flag)
            })
            .await
    }
}
