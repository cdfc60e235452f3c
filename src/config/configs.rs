//! The configuration directory: reads layers with the less specific ones
//! they merge over, and records changes as new versions, each validated
//! against the configuration schema and audited in the same transaction.
//!
//! Invariants:
//! - every change, rollback included, adds one version and one audit
//!   record, or nothing at all;
//! - a change is refused unless the effective configuration it produces
//!   satisfies the schema and the layer stays within the size and depth
//!   limits of [`crate::config::patch`];
//! - a tenant layer is reached only through a [`TenantScope`], the
//!   defaults and plan layers (fleet-wide) only through a
//!   [`PlatformScope`].

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::access::{PlatformScope, TenantScope};
use crate::common::cache::Answers;
use crate::common::ids::TenantId;
use crate::config::layered::{ConfigVersion, LayerRef, LayeredConfig};
use crate::config::patch::{LayerChange, apply_patch, check_comment, check_limits};
use crate::config::schema::ConfigSchema;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::audit::{AuditRecord, Origin};
use crate::store::changefeed::Change;
use crate::store::scope::Scope;
use crate::tenancy::{Tenants, now};

mod fleet;

/// The layer a call acts on: the scope it is reached in, and the chain of
/// layers it merges over, least specific first, ending with itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigTarget {
    /// The scope of the layer's storage transactions.
    scope: Scope,
    /// Least specific first; the last is the layer acted on.
    chain: Vec<LayerRef>,
}

impl ConfigTarget {
    /// `defaults/config`.
    pub fn defaults(platform: &PlatformScope) -> Self {
        Self {
            scope: Scope::from(platform),
            chain: vec![LayerRef::Defaults],
        }
    }

    /// `plans/{plan}/config`.
    pub fn plan(platform: &PlatformScope, plan: String) -> Self {
        Self {
            scope: Scope::from(platform),
            chain: vec![LayerRef::Defaults, LayerRef::Plan(plan)],
        }
    }

    /// The layer acted on.
    pub fn layer(&self) -> &LayerRef {
        // The constructors never make an empty chain.
        self.chain.last().unwrap_or(&LayerRef::Defaults)
    }
}

/// What UpdateConfig and RollbackConfig ask for, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigUpdate {
    /// The new content.
    pub change: LayerChange,
    /// Apply only while the layer has this etag.
    pub etag: Option<String>,
    /// Why.
    pub comment: String,
    /// Check and answer without committing.
    pub validate_only: bool,
    /// The RPC, for the audit log.
    pub action: &'static str,
}

/// What configuration reads keep of a tenant: its layers as they merge.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantConfig {
    /// The tenant.
    pub tenant_id: TenantId,
    /// Its chain of layers, its own last.
    pub layers: LayeredConfig,
}

/// The configuration directory; cheap to clone.
#[derive(Clone)]
pub struct Configs {
    /// Where versions live.
    store: Store,
    /// The tenant directory, for a tenant's plan.
    tenants: Tenants,
    /// What every effective configuration must satisfy.
    schema: ConfigSchema,
    /// Tenants' layers as last read, kept true by the change feed
    /// ([`Self::invalidate`]).
    cache: Arc<Answers<TenantId, Arc<TenantConfig>>>,
}

/// The chain of a tenant's own layer on `plan`.
fn tenant_chain(tenant_id: crate::common::ids::TenantId, plan: String) -> Vec<LayerRef> {
    vec![
        LayerRef::Defaults,
        LayerRef::Plan(plan),
        LayerRef::Tenant(tenant_id),
    ]
}

fn version_not_found(layer: &LayerRef, version: i64) -> Error {
    Error::NotFound {
        kind: "config_version",
        name: format!("{}/versions/{version}", layer.resource_name()),
    }
}

impl Configs {
    /// A directory over `store`, validating with `schema`; tenants' layers
    /// are cached for at most `cache_ttl` between change notifications.
    pub fn new(
        store: Store,
        tenants: Tenants,
        schema: ConfigSchema,
        cache_ttl: std::time::Duration,
    ) -> Self {
        Self {
            store,
            tenants,
            schema,
            cache: Arc::new(Answers::new("configs", cache_ttl, |config| {
                Some(config.tenant_id)
            })),
        }
    }

    /// Drops cached layers `change` may have made wrong: a tenant's
    /// change (its layer, its plan) drops its entry, a platform-wide one
    /// (the defaults or a plan layer) drops all.
    pub fn invalidate(&self, change: Change) {
        self.cache.invalidate(change);
    }

    /// `tenants/{id}/config`, over the layer of the tenant's plan.
    pub async fn tenant_target(&self, scope: &TenantScope) -> Result<ConfigTarget> {
        let cached = self.tenant_layers(scope).await?;
        Ok(ConfigTarget {
            scope: Scope::from(scope),
            chain: cached
                .layers
                .chain
                .iter()
                .map(|head| head.layer.clone())
                .collect(),
        })
    }

    /// The tenant's plan and layers as they are now: from the cache, or
    /// read (the tenant's plan, then the chain) and cached.
    pub async fn tenant_layers(&self, scope: &TenantScope) -> Result<Arc<TenantConfig>> {
        let tenant_id = scope.tenant_id();
        if let Some(found) = self.cache.get(&tenant_id).flatten() {
            return Ok(found);
        }
        let since = self.cache.generation();
        let tenant = self.tenants.get(scope).await?;
        let chain = tenant_chain(tenant_id, tenant.plan);
        let heads = self.store.config_heads(Scope::from(scope), &chain).await?;
        let found = Arc::new(TenantConfig {
            tenant_id,
            layers: LayeredConfig { chain: heads },
        });
        self.cache
            .put(found.tenant_id, Some(Arc::clone(&found)), since);
        Ok(found)
    }

    /// The tenant's layers on `plan` as they were at `revision` of the
    /// change log.
    pub async fn tenant_layers_at(
        &self,
        scope: &TenantScope,
        plan: &str,
        revision: i64,
    ) -> Result<LayeredConfig> {
        let chain = tenant_chain(scope.tenant_id(), plan.to_owned());
        let heads = self
            .store
            .config_heads_at(Scope::from(scope), &chain, revision)
            .await?;
        Ok(LayeredConfig { chain: heads })
    }

    /// The target's layer with the layers it merges over, as they are now
    /// (a tenant's from the cache when warm).
    pub async fn get(&self, target: &ConfigTarget) -> Result<LayeredConfig> {
        if let (Scope::Tenant(_), LayerRef::Tenant(tenant_id)) =
            (target.scope.clone(), target.layer())
            && let Some(cached) = self.cache.get(tenant_id).flatten()
            && cached
                .layers
                .chain
                .iter()
                .map(|head| &head.layer)
                .eq(&target.chain)
        {
            return Ok(cached.layers.clone());
        }
        self.read(target).await
    }

    /// The target's layers read from the store.
    async fn read(&self, target: &ConfigTarget) -> Result<LayeredConfig> {
        let chain = self
            .store
            .config_heads(target.scope.clone(), &target.chain)
            .await?;
        Ok(LayeredConfig { chain })
    }

    /// Applies `update` to the target's layer as a new version, and answers
    /// the layer as it then is (as it would be, for `validate_only`).
    pub async fn update(
        &self,
        target: &ConfigTarget,
        origin: &Origin,
        update: ConfigUpdate,
    ) -> Result<LayeredConfig> {
        check_comment(&update.comment, "comment")?;
        // Fresh, not cached: the etag check below must see the newest.
        let mut config = self.read(target).await?;
        let layer = target.layer().clone();
        let Some(own) = config.chain.last_mut() else {
            return Err(Error::internal("a configuration target without layers"));
        };
        Error::check_etag(update.etag.as_deref(), &own.etag(), || {
            layer.resource_name()
        })?;
        let current = own.values();
        let (values, restored_version) = self.changed(target, &current, update.change).await?;
        check_limits(&values, "config.values")?;
        let next = ConfigVersion {
            layer: layer.clone(),
            version: own.version() + 1,
            values,
            author: origin.actor.clone(),
            comment: update.comment,
            request_id: origin.request_id.clone(),
            restored_version,
            create_time: now(),
        };
        own.current = Some(next.clone());
        self.schema.validate(&config.effective().0)?;
        self.check_fleet(target, &config).await?;
        if update.validate_only {
            return Ok(config);
        }
        let audit = AuditRecord {
            tenant_id: layer.tenant_id(),
            actor: origin.actor.clone(),
            action: update.action,
            resource: layer.resource_name(),
            request_id: origin.request_id.clone(),
            before: Some(Value::Object(current)),
            after: Some(Value::Object(next.values.clone())),
        };
        self.store
            .insert_config_version(target.scope.clone(), &next, audit)
            .await?;
        tracing::info!(config = %layer.resource_name(), version = next.version, "configuration changed");
        Ok(config)
    }

    /// The target layer's values after `change` of its `current` ones, and
    /// the version it restored (0 for none).
    async fn changed(
        &self,
        target: &ConfigTarget,
        current: &Map<String, Value>,
        change: LayerChange,
    ) -> Result<(Map<String, Value>, i64)> {
        Ok(match change {
            LayerChange::Replace(values) => (values, 0),
            LayerChange::Patch { values, paths } => (apply_patch(current, &values, &paths), 0),
            LayerChange::Restore(version) => (self.version(target, version).await?.values, version),
        })
    }

    /// One version of the target's layer.
    pub async fn version(&self, target: &ConfigTarget, version: i64) -> Result<ConfigVersion> {
        let layer = target.layer();
        self.store
            .config_version(target.scope.clone(), layer, version)
            .await?
            .ok_or_else(|| version_not_found(layer, version))
    }

    /// A page of the target layer's versions, newest first, and the token
    /// of the next page.
    pub async fn versions(
        &self,
        target: &ConfigTarget,
        size: u64,
        token: &str,
    ) -> Result<(Vec<ConfigVersion>, String)> {
        let layer = target.layer();
        let name = layer.resource_name();
        let list = async |before: Option<String>, limit| {
            let before = before
                .map(|after| after.parse::<i64>())
                .transpose()
                .map_err(|_| {
                    Error::invalid_field("page_token", "is not a page token issued by this service")
                })?;
            let scope = target.scope.clone();
            self.store
                .list_config_versions(scope, layer, before, limit)
                .await
        };
        let pages = self.store.page_tokens();
        pages
            .page(&[&name], size, token, list, |row| row.version.to_string())
            .await
    }
}
