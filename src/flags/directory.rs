//! The flag directory: create, read, list, update and delete flags with
//! etags and request-id idempotency, each change audited in its own
//! transaction. Overrides are in [`crate::flags::overrides`], cached
//! evaluation and resolution in [`crate::flags::reads`].
//!
//! Flags are fleet-wide: operators change them through a
//! [`PlatformScope`]. Their audit records belong to no tenant, so storage
//! announces them as [`crate::store::changefeed::Change::Everything`] and every
//! replica drops its cached definitions.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;
use uuid::Uuid;

use crate::access::PlatformScope;
use crate::common::paging;
use crate::error::{Error, Result};
use crate::flags::cache::FlagCache;
use crate::flags::flag::{Flag, FlagSpec, FlagType, Rollout, Rule};
use crate::flags::store::{FlagFilter, OverrideSet};
use crate::flags::validate as flag_validate;
use crate::store::Store;
use crate::store::audit::{AuditRecord, Origin};
use crate::store::changefeed::Change;
use crate::store::revision;
use crate::store::revision::Update;
use crate::store::revision::{Revisioned, Stamps, revisioned};
use crate::store::scope::Scope;
use crate::tenancy::{Tenants, now};

/// The idempotency scope and audit action of flag creation.
const CREATE_SCOPE: &str = "CreateFlag";

/// A validated flag to create.
#[derive(Debug, Clone)]
pub struct NewFlag {
    /// Its key.
    pub key: String,
    /// The type of its values.
    pub value_type: FlagType,
    /// Its definition.
    pub spec: FlagSpec,
}

/// A validated change to a flag: `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct FlagPatch {
    /// A new description.
    pub description: Option<String>,
    /// New variants, replacing the old as a whole.
    pub variants: Option<BTreeMap<String, Value>>,
    /// A new default variant.
    pub default_variant: Option<String>,
    /// A new `enabled`.
    pub enabled: Option<bool>,
    /// New rules, replacing the old as a whole.
    pub rules: Option<Vec<Rule>>,
    /// A new default rollout; `Some(None)` removes it.
    pub default_rollout: Option<Option<Rollout>>,
}

/// The flag directory; cheap to clone.
#[derive(Clone)]
pub struct Flags {
    /// Where flags and overrides live.
    pub(crate) store: Store,
    /// Where a tenant's plan, slug and labels are read.
    pub(crate) tenants: Tenants,
    /// Definitions and overrides for evaluation, kept current by
    /// [`Flags::invalidate`].
    pub(crate) cache: Arc<FlagCache>,
}

/// The scope catalogue reads run in, as for the metric catalogue.
fn catalogue() -> Scope {
    Scope::from(&PlatformScope::system())
}

pub(crate) fn changed_meanwhile(name: &str) -> Error {
    Error::changed_meanwhile(name)
}

/// A JSON snapshot of a flag for the audit log.
fn snapshot(flag: &Flag) -> Result<Value> {
    let mut document = serde_json::to_value(&flag.spec).map_err(Error::internal)?;
    if let Some(fields) = document.as_object_mut() {
        fields.insert("name".into(), Value::from(flag.resource_name()));
        fields.insert("value_type".into(), Value::from(flag.value_type.as_str()));
        fields.insert("enabled".into(), Value::from(flag.spec.enabled));
        fields.insert("revision".into(), Value::from(flag.stamps.revision));
    }
    Ok(document)
}

revisioned!(Flag, "flag", "flags", snapshot);

impl Flags {
    /// The directory over `store`; evaluation caches answers for at most
    /// `cache_ttl` between change notifications.
    pub fn new(store: Store, tenants: Tenants, cache_ttl: std::time::Duration) -> Self {
        Self {
            store,
            tenants,
            cache: Arc::new(FlagCache::new(cache_ttl)),
        }
    }

    /// Drops cached definitions and overrides `change` may have made wrong.
    pub fn invalidate(&self, change: Change) {
        self.cache.invalidate(change);
    }

    /// Creates a flag, or returns the one a previous call with the same
    /// request id created.
    pub async fn create(
        &self,
        platform: &PlatformScope,
        origin: &Origin,
        new: NewFlag,
        request_id: Option<Uuid>,
    ) -> Result<Flag> {
        let spec = serde_json::to_string(&new.spec).map_err(Error::internal)?;
        let enabled = new.spec.enabled.to_string();
        let fingerprint =
            paging::query_fingerprint(&[&new.key, new.value_type.as_str(), &enabled, &spec]);
        let now = now();
        let flag = Flag {
            key: new.key,
            value_type: new.value_type,
            spec: new.spec,
            stamps: Stamps::first(now),
        };
        self.store
            .idempotent(platform.into(), CREATE_SCOPE, request_id, fingerprint)
            .insert(origin, flag, Store::insert_stored)
            .await
    }

    /// The flag `key` as stored; NOT_FOUND when there is none. Flags are
    /// the fleet's catalogue, holding no tenant's data: any caller the
    /// access table admits may read them.
    pub async fn get(&self, key: &str) -> Result<Flag> {
        self.store.get_stored(catalogue(), key).await
    }

    /// One page of flags matching `filter`, by key, and the next token.
    pub async fn list(
        &self,
        filter: FlagFilter,
        page_size: u64,
        page_token: &str,
    ) -> Result<(Vec<Flag>, String)> {
        let enabled = format!("{:?}", filter.enabled);
        let value_type = filter.value_type.map(FlagType::as_str).unwrap_or_default();
        let query = ["flags", &enabled, value_type];
        let list = async |after: Option<String>, limit| {
            self.store
                .list_flags(catalogue(), filter, after.as_deref(), limit)
                .await
        };
        self.store
            .page_tokens()
            .page(&query, page_size, page_token, list, |flag| flag.key.clone())
            .await
    }

    /// Applies `patch` to flag `key` if it still has `etag` (when given).
    pub async fn update(
        &self,
        platform: &PlatformScope,
        origin: &Origin,
        (key, etag): (&str, Option<&str>),
        patch: FlagPatch,
    ) -> Result<Flag> {
        let current = self.get(key).await?;
        let change = async |_: &Flag, next: &mut Flag| {
            let spec = &mut next.spec;
            revision::patch(&mut spec.description, patch.description);
            revision::patch(&mut spec.variants, patch.variants);
            revision::patch(&mut spec.default_variant, patch.default_variant);
            revision::patch(&mut spec.enabled, patch.enabled);
            revision::patch(&mut spec.rules, patch.rules);
            revision::patch(&mut spec.default_rollout, patch.default_rollout);
            let mut violations = Vec::new();
            flag_validate::flag_spec(&next.spec, next.value_type, "flag", &mut violations);
            if !violations.is_empty() {
                return Err(Error::InvalidArgument(violations));
            }
            self.check_overrides_keep_variants(platform, next).await
        };
        let update = Update::new(&self.store, platform.into(), origin, "UpdateFlag", etag);
        update
            .apply((current, now()), change, Store::replace_stored)
            .await
    }

    /// Refuses with FAILED_PRECONDITION `VARIANT_IN_USE` an update that
    /// removes a variant some plan's or tenant's override still serves.
    async fn check_overrides_keep_variants(
        &self,
        platform: &PlatformScope,
        next: &Flag,
    ) -> Result<()> {
        for set in [OverrideSet::AllPlans, OverrideSet::AllTenants] {
            let overrides = self
                .store
                .list_flag_overrides(platform.into(), &set, Some(&next.key), None, None)
                .await?;
            for found in overrides {
                let missing = flag_validate::override_variants(&found.spec)
                    .into_iter()
                    .find(|variant| !next.spec.variants.contains_key(*variant));
                if let Some(variant) = missing {
                    return Err(Error::failed_precondition(
                        "VARIANT_IN_USE",
                        "FLAG_OVERRIDE",
                        found.resource_name(),
                        format!(
                            "the variant {variant:?} is served by {}; change or delete that override first",
                            found.resource_name()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Deletes flag `key` and all its overrides, if it still has `etag`
    /// (when given).
    pub async fn delete(
        &self,
        platform: &PlatformScope,
        origin: &Origin,
        key: &str,
        etag: Option<&str>,
    ) -> Result<()> {
        let current = self.get(key).await?;
        current.check_etag(etag)?;
        let record = AuditRecord::platform(
            origin,
            "DeleteFlag",
            current.resource_name(),
            Some(snapshot(&current)?),
            None,
        );
        if !self
            .store
            .delete_flag(platform.into(), &current, record)
            .await?
        {
            return Err(changed_meanwhile(&current.resource_name()));
        }
        Ok(())
    }
}
