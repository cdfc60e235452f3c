//! Work marked by the request path and taken by a background task: the
//! (tenant, metrics) whose usage alerts are to be evaluated, the quota
//! thresholds to be recorded. A key marked again before it is taken is
//! merged into what is pending, so the pending set is bounded by its keys
//! and never by the rate of marks; past `max` keys new keys are turned
//! away (their owner marks them again when it sees them again).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// Pending work by key; cheap to clone, shared by who marks and who takes.
pub struct Pending<K, V> {
    /// What is marked and not yet taken.
    pending: Arc<Mutex<BTreeMap<K, V>>>,
    /// Wakes the task that takes.
    wake: Arc<Notify>,
    /// Most keys pending at once.
    max: usize,
}

impl<K, V> Clone for Pending<K, V> {
    fn clone(&self) -> Self {
        Self {
            pending: self.pending.clone(),
            wake: self.wake.clone(),
            max: self.max,
        }
    }
}

impl<K: Ord, V> Pending<K, V> {
    /// Nothing pending; at most `max` keys at once.
    pub fn new(max: usize) -> Self {
        Self {
            pending: Arc::default(),
            wake: Arc::default(),
            max,
        }
    }

    /// Marks `key`: `merge` updates what is pending for it (starting from
    /// `start()` when nothing is); answers false, changing nothing, when
    /// `key` is new and `max` keys are pending already.
    pub fn mark(&self, key: K, start: impl FnOnce() -> V, merge: impl FnOnce(&mut V)) -> bool {
        let Ok(mut pending) = self.pending.lock() else {
            return false;
        };
        if !pending.contains_key(&key) && pending.len() >= self.max {
            return false;
        }
        merge(pending.entry(key).or_insert_with(start));
        drop(pending);
        self.wake.notify_one();
        true
    }

    /// Waits until something is marked, then takes everything marked.
    pub async fn next(&self) -> BTreeMap<K, V> {
        loop {
            let taken = self
                .pending
                .lock()
                .map(|mut pending| std::mem::take(&mut *pending))
                .unwrap_or_default();
            if !taken.is_empty() {
                return taken;
            }
            self.wake.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn marks_of_one_key_merge_and_new_keys_past_the_bound_are_turned_away() {
        let pending: Pending<u32, Vec<&str>> = Pending::new(2);
        assert!(pending.mark(1, Vec::new, |v| v.push("a")));
        assert!(pending.mark(1, Vec::new, |v| v.push("b")));
        assert!(pending.mark(2, Vec::new, |v| v.push("c")));
        assert!(!pending.mark(3, Vec::new, |v| v.push("d")));
        // A key already pending still merges at the bound.
        assert!(pending.mark(2, Vec::new, |v| v.push("e")));
        let taken = pending.next().await;
        assert_eq!(taken.get(&1), Some(&vec!["a", "b"]));
        assert_eq!(taken.get(&2), Some(&vec!["c", "e"]));
        assert_eq!(taken.len(), 2);
        // Taking made room.
        assert!(pending.mark(3, Vec::new, |v| v.push("d")));
    }
}
