//! Cached answers of one owner: API keys by prefix (the gate's), a tenant's
//! plan and overrides (quota checks'), its configuration layers, the flag
//! catalogue and a tenant's flag overrides. Each owner keeps its own
//! [`Answers`], each answer for at most a TTL, and drops them at once when
//! the change feed reports a change to their tenant (or any platform-wide
//! change).
//!
//! A lookup that started before a change must not put its stale answer
//! back after the change dropped it: every invalidation bumps a
//! generation, and answers read under an older generation are not stored.
//!
//! A read is one moka lookup and one clone of the answer, on the warm path
//! of every call (the gate, quota checks, flags): the TTL is moka's alone
//! (its lookup already reads the clock and refuses an expired entry before
//! housekeeping removes it), and a key is looked up by its borrowed form,
//! so a `String` key is asked for with a `&str` and nothing is allocated.
//! An owner whose answers are more than a few words keeps them as `Arc`s,
//! so that clone is a reference count; and since each lookup also records
//! the read for TinyLFU, an owner asks a map only for what it would
//! otherwise read from storage.

use std::borrow::Borrow;
use std::hash::Hash;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::common::ids::TenantId;
use crate::error::{Error, Result};
use crate::store::changefeed::Change;

/// Entries one map holds at most. Past it, moka's TinyLFU admission keeps
/// the answers asked for often and turns away one-off keys, so a flood of
/// made-up keys or hosts neither grows memory nor evicts real tenants.
const MAX_ENTRIES: u64 = 100_000;

/// The longest a TTL is taken to be (moka refuses some that are longer).
const LONGEST_TTL: Duration = Duration::from_secs(365 * 24 * 3600);

/// The generation a lookup started in; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation(u64);

/// The counter of lookups of every cache, by `cache` and `result`.
pub const CACHE_REQUESTS: &str = "tenantd_cache_requests_total";

/// A map of cached answers, each belonging to at most one tenant.
pub struct Answers<K, T> {
    /// Lookups that found an answer (or a "there is none").
    hits: metrics::Counter,
    /// Lookups that found nothing.
    misses: metrics::Counter,
    /// How long an answer is trusted without a change notification.
    ttl: Duration,
    /// The tenant an answer belongs to; `None` for fleet-wide answers,
    /// which a tenant's change leaves be.
    owner: fn(&T) -> Option<TenantId>,
    /// Bumped by every invalidation.
    generation: AtomicU64,
    /// Held by a put across its generation check and its insert, and by an
    /// invalidation across its bump and its removals, so a stale answer
    /// can never land after the change that dropped it. Reads do not take it.
    writing: Mutex<()>,
    /// The answers, bounded, each for at most `ttl` after its put; `None`
    /// caches "there is none".
    entries: moka::sync::Cache<K, Option<T>>,
}

impl<K, T> std::fmt::Debug for Answers<K, T> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Answers")
            .field("ttl", &self.ttl)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl<K, T> Answers<K, T>
where
    K: Eq + Hash + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
{
    /// An empty map named `name` in the metrics, whose answers live at
    /// most `ttl`, each belonging to the tenant `owner` names.
    pub fn new(name: &'static str, ttl: Duration, owner: fn(&T) -> Option<TenantId>) -> Self {
        Self::with_capacity(name, ttl, owner, MAX_ENTRIES)
    }

    fn with_capacity(
        name: &'static str,
        ttl: Duration,
        owner: fn(&T) -> Option<TenantId>,
        capacity: u64,
    ) -> Self {
        let ttl = ttl.min(LONGEST_TTL);
        Self {
            hits: metrics::counter!(CACHE_REQUESTS, "cache" => name, "result" => "hit"),
            misses: metrics::counter!(CACHE_REQUESTS, "cache" => name, "result" => "miss"),
            ttl,
            owner,
            generation: AtomicU64::new(0),
            writing: Mutex::new(()),
            entries: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        // The lock guards no data of its own, so a poisoned one is usable.
        self.writing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Call before reading what will be stored with [`Self::put`].
    pub fn generation(&self) -> Generation {
        Generation(self.generation.load(Ordering::Acquire))
    }

    /// The answer for `key`: `None` on a miss (an expired answer is one),
    /// `Some(None)` if known absent.
    pub fn get<Q>(&self, key: &Q) -> Option<Option<T>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let found = self.entries.get(key);
        match found {
            Some(_) => self.hits.increment(1),
            None => self.misses.increment(1),
        }
        found
    }

    /// Remembers the answer for `key`, read since `since`; nothing when a
    /// change came in between.
    pub fn put(&self, key: K, value: Option<T>, since: Generation) {
        let _writing = self.lock();
        if self.generation() != since {
            return;
        }
        self.entries.insert(key, value);
    }

    /// `key`'s answer, or the one `load` reads, kept unless a change
    /// arrived while it was read (the generation taken before the read
    /// says so).
    pub async fn through<Q>(
        &self,
        key: &Q,
        load: impl AsyncFnOnce() -> Result<Option<T>>,
    ) -> Result<Option<T>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if let Some(cached) = self.get(key) {
            return Ok(cached);
        }
        let since = self.generation();
        let value = load().await?;
        self.put(key.to_owned(), value.clone(), since);
        Ok(value)
    }

    /// As [`Self::through`], for a map whose answers always exist: `load`
    /// fails rather than finding none, and nothing is cached as none.
    pub async fn through_found<Q>(
        &self,
        key: &Q,
        load: impl AsyncFnOnce() -> Result<T>,
    ) -> Result<T>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let found = self.through(key, async || load().await.map(Some)).await?;
        found.ok_or_else(|| Error::internal("an answer cached as none in a map of found ones"))
    }

    /// Drops what `change` may have made wrong: a tenant's change drops its
    /// answers and every "there is none" (a change may have made something
    /// exist); a platform-wide change drops everything.
    pub fn invalidate(&self, change: Change) {
        let _writing = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        match change {
            Change::Tenant(tenant_id) => {
                let owner = self.owner;
                for (key, value) in self.entries.iter() {
                    let belongs = value
                        .as_ref()
                        .is_none_or(|value| owner(value) == Some(tenant_id));
                    if belongs {
                        self.entries.invalidate(&*key);
                    }
                }
            }
            Change::Everything => self.entries.invalidate_all(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant_id() -> TenantId {
        TenantId::from_uuid(uuid::Uuid::now_v7())
    }

    /// A tenant's answer: the tenant and what it resolved by.
    type Target = (TenantId, &'static str);

    fn targets(ttl: Duration) -> Answers<&'static str, Target> {
        Answers::new("test", ttl, |(id, _)| Some(*id))
    }

    #[test]
    fn a_change_drops_its_tenant_and_every_absence() {
        let cache = targets(Duration::from_secs(60));
        let (changed, other) = (tenant_id(), tenant_id());
        let since = cache.generation();
        cache.put("a", Some((changed, "slug")), since);
        cache.put("b", Some((other, "slug")), since);
        cache.put("c", None, since);
        assert_eq!(cache.get(&"c"), Some(None));
        cache.invalidate(Change::Tenant(changed));
        assert_eq!(cache.get(&"a"), None);
        assert_eq!(cache.get(&"c"), None);
        assert_eq!(cache.get(&"b"), Some(Some((other, "slug"))));
    }

    #[test]
    fn an_answer_read_before_a_change_is_not_stored() {
        let cache = targets(Duration::from_secs(60));
        let id = tenant_id();
        let since = cache.generation();
        cache.invalidate(Change::Tenant(tenant_id()));
        cache.put("id", Some((id, "id")), since);
        assert_eq!(cache.get(&"id"), None);
    }

    #[test]
    fn fleet_wide_answers_follow_only_fleet_wide_changes() {
        let catalogue: Answers<(), u32> = Answers::new("test", Duration::from_secs(60), |_| None);
        catalogue.put((), Some(7), catalogue.generation());
        catalogue.invalidate(Change::Tenant(tenant_id()));
        assert_eq!(
            catalogue.get(&()),
            Some(Some(7)),
            "a tenant's change keeps the fleet's answers"
        );
        catalogue.invalidate(Change::Everything);
        assert_eq!(catalogue.get(&()), None);
    }

    #[test]
    fn a_flood_of_one_off_keys_does_not_evict_a_hot_answer() {
        let cache: Answers<String, Target> =
            Answers::with_capacity("test", Duration::from_secs(60), |(id, _)| Some(*id), 100);
        let hot = tenant_id();
        let hot_key = "hot".to_owned();
        cache.put(hot_key.clone(), Some((hot, "slug")), cache.generation());
        // The real tenant keeps calling while someone floods the cache with
        // made-up hosts, each asked once.
        let mut misses = 0;
        for made_up in 0..10_000 {
            if made_up % 10 == 0 && cache.get(&hot_key).is_none() {
                misses += 1;
                cache.put(hot_key.clone(), Some((hot, "slug")), cache.generation());
            }
            let key = format!("made-up-{made_up}");
            assert_eq!(cache.get(&key), None);
            cache.put(key, None, cache.generation());
            if made_up % 100 == 0 {
                cache.entries.run_pending_tasks();
            }
        }
        cache.entries.run_pending_tasks();
        assert!(cache.entries.entry_count() <= 100, "the map stays bounded");
        assert!(misses <= 1, "the hot answer was evicted {misses} times");
        assert_eq!(cache.get(&hot_key), Some(Some((hot, "slug"))));
    }

    #[test]
    fn answers_expire() {
        let cache = targets(Duration::ZERO);
        cache.put("a", None, cache.generation());
        assert_eq!(cache.get(&"a"), None);
    }
}
