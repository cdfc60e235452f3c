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

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use crate::common::ids::TenantId;
use crate::store::changefeed::Change;

/// Entries one map may hold; past it the map starts over, so a flood of
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

/// The generation a lookup started in; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation(u64);

/// What the lock guards: the answers and the generation they belong to.
#[derive(Debug)]
struct Map<K, T> {
    /// Bumped by every invalidation.
    generation: u64,
    /// The answers.
    entries: HashMap<K, Entry<T>>,
}

/// A map of cached answers, each belonging to at most one tenant.
#[derive(Debug)]
pub struct Answers<K, T> {
    /// How long an answer is trusted without a change notification.
    ttl: Duration,
    /// The tenant an answer belongs to; `None` for fleet-wide answers,
    /// which a tenant's change leaves be.
    owner: fn(&T) -> Option<TenantId>,
    /// The answers, behind one lock.
    map: RwLock<Map<K, T>>,
}

impl<K: Eq + Hash, T: Clone> Answers<K, T> {
    /// An empty map whose answers live at most `ttl`, each belonging to
    /// the tenant `owner` names.
    pub fn new(ttl: Duration, owner: fn(&T) -> Option<TenantId>) -> Self {
        Self {
            ttl,
            owner,
            map: RwLock::new(Map {
                generation: 0,
                entries: HashMap::new(),
            }),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Map<K, T>> {
        // A panic while holding the lock cannot leave the map half-written
        // (each change is one HashMap call), so a poisoned lock is usable.
        self.map
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Map<K, T>> {
        self.map
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Call before reading what will be stored with [`Self::put`].
    pub fn generation(&self) -> Generation {
        Generation(self.read().generation)
    }

    /// The answer for `key`: `None` on a miss, `Some(None)` if known absent.
    pub fn get(&self, key: &K) -> Option<Option<T>> {
        self.read()
            .entries
            .get(key)
            .filter(|entry| entry.read_at.elapsed() < self.ttl)
            .map(|entry| entry.value.clone())
    }

    /// Remembers the answer for `key`, read since `since`; nothing when a
    /// change came in between.
    pub fn put(&self, key: K, value: Option<T>, since: Generation) {
        let mut map = self.write();
        if map.generation != since.0 {
            return;
        }
        if map.entries.len() >= MAX_ENTRIES {
            map.entries.clear();
        }
        let entry = Entry {
            value,
            read_at: Instant::now(),
        };
        map.entries.insert(key, entry);
    }

    /// Drops what `change` may have made wrong: a tenant's change drops its
    /// answers and every "there is none" (a change may have made something
    /// exist); a platform-wide change drops everything.
    pub fn invalidate(&self, change: Change) {
        let mut map = self.write();
        map.generation += 1;
        match change {
            Change::Tenant(tenant_id) => {
                let owner = self.owner;
                map.entries.retain(|_, entry| {
                    entry
                        .value
                        .as_ref()
                        .is_some_and(|value| owner(value) != Some(tenant_id))
                });
            }
            Change::Everything => map.entries.clear(),
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
        Answers::new(ttl, |(id, _)| Some(*id))
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
        let catalogue: Answers<(), u32> = Answers::new(Duration::from_secs(60), |_| None);
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
    fn answers_expire() {
        let cache = targets(Duration::ZERO);
        cache.put("a", None, cache.generation());
        assert_eq!(cache.get(&"a"), None);
    }
}
