//! The hot-path cache: API keys by prefix, tenants by id and resolution
//! answers by target (the gate's), and each tenant's plan and overrides
//! (quota checks'), each tenant's configuration layers (configuration
//! reads'), the flag catalogue and each tenant's flag overrides (flag
//! evaluation's), each for at most a TTL and dropped at once when the
//! change feed reports a change to their tenant (or, for plans, layers and
//! flags, any platform-wide change).
//!
//! A lookup that started before a change must not put its stale answer
//! back after the change dropped it: every invalidation bumps a
//! generation, and answers read under an older generation are not stored.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::access::api_key::ApiKey;
use crate::access::resolve::{ResolveTarget, ResolvedBy};
use crate::common::ids::TenantId;
use crate::config::layered::LayeredConfig;
use crate::flags::reads::{FlagCatalogue, TenantFlags};
use crate::quota::plan::Plan;
use crate::quota::quotas::QuotaOverride;
use crate::store::changefeed::Change;
use crate::tenancy::tenant::Tenant;

/// Entries a map may hold; past it the map starts over, so a flood of
/// made-up keys or hosts cannot grow memory without bound.
const MAX_ENTRIES: usize = 100_000;

/// One cached answer.
#[derive(Debug, Clone)]
struct Entry<T> {
    /// The answer; `None` caches "there is none".
    value: Option<T>,
    /// When it was read.
    read_at: Instant,
}

/// A map of cached answers, each belonging to at most one tenant.
#[derive(Debug)]
struct Answers<K, T> {
    entries: HashMap<K, Entry<T>>,
}

impl<K: Eq + Hash, T: Clone> Answers<K, T> {
    fn new() -> Self {
        Self {
            entries: HashMap::new(),
        }
    }

    fn get(&self, key: &K, ttl: Duration) -> Option<Option<T>> {
        self.entries
            .get(key)
            .filter(|entry| entry.read_at.elapsed() < ttl)
            .map(|entry| entry.value.clone())
    }

    fn put(&mut self, key: K, value: Option<T>) {
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.clear();
        }
        self.entries.insert(
            key,
            Entry {
                value,
                read_at: Instant::now(),
            },
        );
    }

    /// Drops the answers about `tenant_id` and every "there is none": a
    /// change may have made something exist.
    fn forget(&mut self, tenant_id: TenantId, owner: impl Fn(&T) -> TenantId) {
        self.entries.retain(|_, entry| {
            entry
                .value
                .as_ref()
                .is_some_and(|value| owner(value) != tenant_id)
        });
    }
}

/// What quota checks read of a tenant: its plan and overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantLimits {
    /// The tenant.
    pub tenant_id: TenantId,
    /// Its plan.
    pub plan: Plan,
    /// Its overrides, expired ones included (expiry is judged per call).
    pub overrides: Vec<QuotaOverride>,
}

/// What configuration reads keep of a tenant: its layers as they merge.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantConfig {
    /// The tenant.
    pub tenant_id: TenantId,
    /// Its chain of layers, its own last.
    pub layers: LayeredConfig,
}

/// Everything cached, behind one lock.
#[derive(Debug)]
struct Maps {
    keys: Answers<String, ApiKey>,
    tenants: Answers<TenantId, Tenant>,
    targets: Answers<ResolveTarget, (TenantId, ResolvedBy)>,
    limits: Answers<TenantId, Arc<TenantLimits>>,
    configs: Answers<TenantId, Arc<TenantConfig>>,
    /// Fleet-wide, so its one entry belongs to no tenant.
    flag_catalogue: Answers<(), Arc<FlagCatalogue>>,
    tenant_flags: Answers<TenantId, Arc<TenantFlags>>,
}

/// The gate's cache.
#[derive(Debug)]
pub struct Cache {
    /// How long an answer is trusted without a change notification.
    ttl: Duration,
    /// Bumped by every invalidation.
    generation: AtomicU64,
    /// The answers.
    maps: RwLock<Maps>,
}

/// The generation a lookup started in; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation(u64);

impl Cache {
    /// An empty cache whose answers live at most `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            generation: AtomicU64::new(0),
            maps: RwLock::new(Maps {
                keys: Answers::new(),
                tenants: Answers::new(),
                targets: Answers::new(),
                limits: Answers::new(),
                configs: Answers::new(),
                flag_catalogue: Answers::new(),
                tenant_flags: Answers::new(),
            }),
        }
    }

    /// Call before reading what will be stored with a `put_*`.
    pub fn generation(&self) -> Generation {
        Generation(self.generation.load(Ordering::Acquire))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Maps> {
        // A panic while holding the lock cannot leave a map half-written
        // (each change is one HashMap call), so a poisoned lock is usable.
        self.maps
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write_if_current(&self, since: Generation, write: impl FnOnce(&mut Maps)) {
        let mut maps = self
            .maps
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if self.generation() == since {
            write(&mut maps);
        }
    }

    /// The key with `prefix`: `None` on a miss, `Some(None)` if known absent.
    pub fn key(&self, prefix: &str) -> Option<Option<ApiKey>> {
        self.read().keys.get(&prefix.to_owned(), self.ttl)
    }

    /// Remembers the key with `prefix`, read since `since`.
    pub fn put_key(&self, prefix: &str, key: Option<ApiKey>, since: Generation) {
        self.write_if_current(since, |maps| maps.keys.put(prefix.to_owned(), key));
    }

    /// The tenant `id`, as for [`Self::key`].
    pub fn tenant(&self, id: TenantId) -> Option<Option<Tenant>> {
        self.read().tenants.get(&id, self.ttl)
    }

    /// Remembers the tenant `id`, read since `since`.
    pub fn put_tenant(&self, id: TenantId, tenant: Option<Tenant>, since: Generation) {
        self.write_if_current(since, |maps| maps.tenants.put(id, tenant));
    }

    /// Which tenant `target` names, as for [`Self::key`].
    pub fn target(&self, target: &ResolveTarget) -> Option<Option<(TenantId, ResolvedBy)>> {
        self.read().targets.get(target, self.ttl)
    }

    /// Remembers which tenant `target` names, read since `since`.
    pub fn put_target(
        &self,
        target: ResolveTarget,
        found: Option<(TenantId, ResolvedBy)>,
        since: Generation,
    ) {
        self.write_if_current(since, |maps| maps.targets.put(target, found));
    }

    /// The cached plan and overrides of `tenant_id`.
    pub fn limits(&self, tenant_id: TenantId) -> Option<Arc<TenantLimits>> {
        self.read().limits.get(&tenant_id, self.ttl).flatten()
    }

    /// Caches the plan and overrides read since `since`.
    pub fn put_limits(&self, limits: Arc<TenantLimits>, since: Generation) {
        self.write_if_current(since, |maps| {
            maps.limits.put(limits.tenant_id, Some(limits));
        });
    }

    /// The cached configuration layers of `tenant_id`.
    pub fn config(&self, tenant_id: TenantId) -> Option<Arc<TenantConfig>> {
        self.read().configs.get(&tenant_id, self.ttl).flatten()
    }

    /// Caches configuration layers read since `since`.
    pub fn put_config(&self, config: Arc<TenantConfig>, since: Generation) {
        self.write_if_current(since, |maps| {
            maps.configs.put(config.tenant_id, Some(config));
        });
    }

    /// The cached flag catalogue.
    pub fn flag_catalogue(&self) -> Option<Arc<FlagCatalogue>> {
        self.read().flag_catalogue.get(&(), self.ttl).flatten()
    }

    /// Caches the flag catalogue read since `since`.
    pub fn put_flag_catalogue(&self, catalogue: Arc<FlagCatalogue>, since: Generation) {
        self.write_if_current(since, |maps| maps.flag_catalogue.put((), Some(catalogue)));
    }

    /// The cached flag overrides and attributes of `tenant_id`.
    pub fn tenant_flags(&self, tenant_id: TenantId) -> Option<Arc<TenantFlags>> {
        self.read().tenant_flags.get(&tenant_id, self.ttl).flatten()
    }

    /// Caches a tenant's flag overrides and attributes read since `since`.
    pub fn put_tenant_flags(&self, flags: Arc<TenantFlags>, since: Generation) {
        self.write_if_current(since, |maps| {
            maps.tenant_flags.put(flags.tenant_id, Some(flags));
        });
    }

    /// Drops what `change` may have made wrong.
    pub fn invalidate(&self, change: Change) {
        let mut maps = self
            .maps
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        match change {
            Change::Tenant(tenant_id) => {
                maps.keys.forget(tenant_id, |key| key.tenant_id);
                maps.tenants.forget(tenant_id, |tenant| tenant.id);
                maps.targets.forget(tenant_id, |(id, _)| *id);
                maps.limits.forget(tenant_id, |limits| limits.tenant_id);
                maps.configs.forget(tenant_id, |config| config.tenant_id);
                // The catalogue holds no tenant's data: a tenant's change
                // leaves it be.
                maps.tenant_flags.forget(tenant_id, |flags| flags.tenant_id);
            }
            Change::Everything => {
                maps.keys.entries.clear();
                maps.tenants.entries.clear();
                maps.targets.entries.clear();
                maps.limits.entries.clear();
                maps.configs.entries.clear();
                maps.flag_catalogue.entries.clear();
                maps.tenant_flags.entries.clear();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant_id() -> TenantId {
        TenantId::from_uuid(uuid::Uuid::now_v7())
    }

    #[test]
    fn a_change_drops_its_tenant_and_every_absence() {
        let cache = Cache::new(Duration::from_secs(60));
        let (changed, other) = (tenant_id(), tenant_id());
        let since = cache.generation();
        cache.put_target(
            ResolveTarget::Slug("a".into()),
            Some((changed, ResolvedBy::Slug)),
            since,
        );
        cache.put_target(
            ResolveTarget::Slug("b".into()),
            Some((other, ResolvedBy::Slug)),
            since,
        );
        cache.put_target(ResolveTarget::Slug("c".into()), None, since);
        assert_eq!(cache.target(&ResolveTarget::Slug("c".into())), Some(None));
        cache.invalidate(Change::Tenant(changed));
        assert_eq!(cache.target(&ResolveTarget::Slug("a".into())), None);
        assert_eq!(cache.target(&ResolveTarget::Slug("c".into())), None);
        assert_eq!(
            cache.target(&ResolveTarget::Slug("b".into())),
            Some(Some((other, ResolvedBy::Slug)))
        );
    }

    #[test]
    fn an_answer_read_before_a_change_is_not_stored() {
        let cache = Cache::new(Duration::from_secs(60));
        let id = tenant_id();
        let since = cache.generation();
        cache.invalidate(Change::Tenant(tenant_id()));
        cache.put_target(
            ResolveTarget::TenantId(id),
            Some((id, ResolvedBy::TenantId)),
            since,
        );
        assert_eq!(cache.target(&ResolveTarget::TenantId(id)), None);
    }

    #[test]
    fn flag_answers_follow_their_changes() {
        use crate::flags::reads::{FlagCatalogue, TenantFlags};
        let cache = Cache::new(Duration::from_secs(60));
        let (changed, other) = (tenant_id(), tenant_id());
        let since = cache.generation();
        cache.put_flag_catalogue(Arc::new(FlagCatalogue::default()), since);
        for id in [changed, other] {
            let flags = TenantFlags {
                tenant_id: id,
                plan: "starter".into(),
                facts: Default::default(),
                overrides: Default::default(),
            };
            cache.put_tenant_flags(Arc::new(flags), since);
        }
        cache.invalidate(Change::Tenant(changed));
        assert!(cache.tenant_flags(changed).is_none());
        assert!(cache.tenant_flags(other).is_some());
        assert!(
            cache.flag_catalogue().is_some(),
            "a tenant's change keeps the fleet's flags"
        );
        cache.invalidate(Change::Everything);
        assert!(cache.flag_catalogue().is_none());
        assert!(cache.tenant_flags(other).is_none());
    }

    #[test]
    fn answers_expire() {
        let cache = Cache::new(Duration::ZERO);
        cache.put_target(ResolveTarget::Slug("a".into()), None, cache.generation());
        assert_eq!(cache.target(&ResolveTarget::Slug("a".into())), None);
    }
}
