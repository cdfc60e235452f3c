//! This replica's counts of every tenant's calls by UTC minute, kept in
//! memory until the flush writes them: the [`CallSink`] the observing
//! layer tells of every answered call.
//!
//! Invariants kept here:
//! - [`CallSink::record`] never waits on I/O and never allocates once the
//!   tenant has an entry: each tenant holds a fixed ring of
//!   [`MINUTES_KEPT`] minutes, in one of [`SHARDS`] maps, each behind its
//!   own `std::sync::Mutex` held only to add to a few counters;
//! - a poisoned shard is recovered, never propagated: the counters it
//!   guards are plain integers that no panic can leave half-written in a
//!   way that matters, and one tenant's failure must not stop the
//!   counting of the others;
//! - memory is bounded: a tenant with [`MINUTES_KEPT`] unflushed minutes
//!   (the database has been unreachable for that long) loses the oldest
//!   for the newest, and the loss is counted for the flush to report;
//!   tenants idle for [`IDLE_MINUTES`] are forgotten once flushed;
//! - a minute's counts are running totals, written whole by every flush
//!   and forgotten only after the minute has ended and its last counts
//!   were written.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use crate::common::calls::{CallOutcome, CallSink};
use crate::common::ids::TenantId;
use crate::slo::counts::CallCounts;

/// Shards of the tenant map, so calls of different tenants rarely wait on
/// one another's lock.
pub const SHARDS: usize = 16;
/// Minutes a tenant's entry holds: the current one, the one before while
/// its last counts are flushed, and a few more while the database is away.
pub const MINUTES_KEPT: usize = 5;
/// Minutes without a call after which a tenant's entry is dropped.
pub const IDLE_MINUTES: i64 = 10;

/// The current UTC minute, in minutes since the Unix epoch.
pub fn current_minute() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    i64::try_from(since_epoch.as_secs() / 60).unwrap_or(i64::MAX)
}

/// One tenant's counts of one minute, as the flush writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinuteCounts {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The minute, since the Unix epoch.
    pub minute: i64,
    /// Its counts so far.
    pub counts: CallCounts,
}

/// One minute of one tenant.
#[derive(Debug, Clone, Copy)]
struct Slot {
    /// The minute, since the Unix epoch.
    minute: i64,
    /// Its running totals.
    counts: CallCounts,
    /// `counts.requests` as last written: every call adds a request, so
    /// equal means nothing changed since.
    flushed_requests: u64,
}

impl Slot {
    fn is_flushed(&self) -> bool {
        self.counts.requests == self.flushed_requests
    }
}

/// One tenant's recent minutes.
#[derive(Debug, Default)]
struct TenantMinutes {
    /// At most [`MINUTES_KEPT`], in no order.
    slots: [Option<Slot>; MINUTES_KEPT],
    /// The last minute it had a call in.
    last_minute: i64,
}

impl TenantMinutes {
    /// Counts a call in `minute`; whether a minute not yet written had to
    /// give way.
    fn record(&mut self, minute: i64, failed: bool, latency: Duration) -> bool {
        let newest = self.slots.iter().flatten().map(|slot| slot.minute).max();
        // A clock set back counts in the newest minute rather than reopen
        // one already written and forgotten.
        let minute = match newest {
            Some(newest) if minute < newest && self.slot_of(minute).is_none() => newest,
            _ => minute,
        };
        self.last_minute = self.last_minute.max(minute);
        if let Some(slot) = self.slots.iter_mut().flatten().find(|s| s.minute == minute) {
            slot.counts.add_call(failed, latency);
            return false;
        }
        let (index, dropped) = self.free_or_oldest();
        let mut counts = CallCounts::default();
        counts.add_call(failed, latency);
        self.slots[index] = Some(Slot {
            minute,
            counts,
            flushed_requests: 0,
        });
        dropped
    }

    fn slot_of(&self, minute: i64) -> Option<&Slot> {
        self.slots
            .iter()
            .flatten()
            .find(|slot| slot.minute == minute)
    }

    /// A free slot, else the oldest, and whether it held unwritten counts.
    fn free_or_oldest(&self) -> (usize, bool) {
        if let Some(free) = self.slots.iter().position(Option::is_none) {
            return (free, false);
        }
        let oldest = self
            .slots
            .iter()
            .enumerate()
            .min_by_key(|(_, slot)| slot.map_or(i64::MIN, |slot| slot.minute));
        match oldest {
            Some((index, Some(slot))) => (index, !slot.is_flushed()),
            _ => (0, false),
        }
    }

    /// Notes that `written` was stored.
    fn mark_written(&mut self, written: &MinuteCounts) {
        for slot in self.slots.iter_mut().flatten() {
            if slot.minute == written.minute {
                slot.flushed_requests = slot.flushed_requests.max(written.counts.requests);
            }
        }
    }

    /// Forgets the minutes before `now` that are stored as they are.
    fn forget_ended(&mut self, now: i64) {
        for entry in self.slots.iter_mut() {
            if entry.is_some_and(|slot| slot.minute < now && slot.is_flushed()) {
                *entry = None;
            }
        }
    }

    fn is_idle(&self, now: i64) -> bool {
        self.slots.iter().all(Option::is_none)
            && now.saturating_sub(self.last_minute) >= IDLE_MINUTES
    }
}

/// The counters every shard shares.
#[derive(Debug)]
struct Shared {
    /// This replica's id in the table: random per process, so replicas
    /// never write each other's rows and a restart starts rows of its own.
    replica: String,
    /// Tenants by shard.
    shards: [Mutex<HashMap<TenantId, TenantMinutes>>; SHARDS],
    /// Unwritten minutes given up since the flush last asked.
    dropped: AtomicU64,
}

/// This replica's per-tenant call counts; cheap to clone.
#[derive(Debug, Clone)]
pub struct CallLog {
    /// Shared by every clone.
    shared: Arc<Shared>,
}

impl Default for CallLog {
    fn default() -> Self {
        Self::new()
    }
}

impl CallLog {
    /// An empty log with a fresh replica id.
    pub fn new() -> Self {
        Self {
            shared: Arc::new(Shared {
                replica: uuid::Uuid::new_v4().simple().to_string(),
                shards: std::array::from_fn(|_| Mutex::new(HashMap::new())),
                dropped: AtomicU64::new(0),
            }),
        }
    }

    /// This replica's id.
    pub fn replica(&self) -> &str {
        &self.shared.replica
    }

    fn shard(&self, tenant_id: TenantId) -> MutexGuard<'_, HashMap<TenantId, TenantMinutes>> {
        // The low bits of a UUIDv7 are random.
        let index = (tenant_id.as_uuid().as_u128() % SHARDS as u128) as usize;
        self.shared.shards[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a call of `tenant_id` in `minute`.
    pub fn record_at(&self, tenant_id: TenantId, minute: i64, failed: bool, latency: Duration) {
        let dropped = self
            .shard(tenant_id)
            .entry(tenant_id)
            .or_default()
            .record(minute, failed, latency);
        if dropped {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// This replica's counts of `tenant_id` not yet forgotten, by minute.
    pub fn pending(&self, tenant_id: TenantId) -> Vec<(i64, CallCounts)> {
        let shard = self.shard(tenant_id);
        let Some(minutes) = shard.get(&tenant_id) else {
            return Vec::new();
        };
        let mut pending: Vec<(i64, CallCounts)> = minutes
            .slots
            .iter()
            .flatten()
            .map(|slot| (slot.minute, slot.counts))
            .collect();
        pending.sort_by_key(|(minute, _)| *minute);
        pending
    }

    /// Every minute whose counts changed since they were last written.
    pub fn unwritten(&self) -> Vec<MinuteCounts> {
        let mut found = Vec::new();
        for shard in &self.shared.shards {
            let shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            for (tenant_id, minutes) in shard.iter() {
                let changed = minutes.slots.iter().flatten().filter(|s| !s.is_flushed());
                found.extend(changed.map(|slot| MinuteCounts {
                    tenant_id: *tenant_id,
                    minute: slot.minute,
                    counts: slot.counts,
                }));
            }
        }
        found
    }

    /// Notes that `written` were stored, as of minute `now`: minutes that
    /// ended and are stored as they are now are forgotten, and tenants
    /// idle since long enough with them.
    pub fn written(&self, written: &[MinuteCounts], now: i64) {
        for entry in written {
            if let Some(minutes) = self.shard(entry.tenant_id).get_mut(&entry.tenant_id) {
                minutes.mark_written(entry);
            }
        }
        for shard in &self.shared.shards {
            let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            for minutes in shard.values_mut() {
                minutes.forget_ended(now);
            }
            shard.retain(|_, minutes| !minutes.is_idle(now));
        }
    }

    /// How many unwritten minutes were given up since the last call.
    pub fn take_dropped(&self) -> u64 {
        self.shared.dropped.swap(0, Ordering::Relaxed)
    }

    /// How many tenants have an entry.
    pub fn tenants(&self) -> usize {
        self.shared
            .shards
            .iter()
            .map(|shard| shard.lock().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }
}

impl CallSink for CallLog {
    fn record(&self, call: &CallOutcome<'_>) {
        if let Some(tenant_id) = call.tenant {
            self.record_at(tenant_id, current_minute(), call.failed(), call.latency);
        }
    }
}

#[cfg(test)]
#[path = "call_log_tests.rs"]
mod tests;
