//! The in-process limiter: every counter in one map behind a mutex, so a
//! batch is atomic within this replica (and only there: with several
//! replicas, configure Redis). Same semantics as [`crate::quota::limiter::redis`], whose
//! Lua script this code mirrors step for step.
//!
//! Invariant: one tenant's batch can never break the map for the others. A
//! batch is computed from a shared borrow of the state (nothing changes
//! while it is worked out, and all its arithmetic is bounded by
//! [`crate::quota::limiter::bounds`] or saturating, so none of it panics), then committed
//! with plain map inserts. A panic, should one happen anyway, therefore
//! leaves the state as it was before the batch, which is why the lock is
//! taken back from a poisoned mutex instead of failing every later call.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::common::ids::TenantId;
use crate::error::Result;
use crate::quota::limiter::bounds::{beyond_usage, check_batch, overflows};
use crate::quota::limiter::slot::{Slot, change, reset_ms, retry_ms, usage};
use crate::quota::limiter::{Action, Answer, Batch, IDEMPOTENCY_TTL, Item, Limiter, Mode, Outcome};

/// Expired counters and answers are swept after this many batches.
const SWEEP_EVERY: u64 = 4096;

#[derive(Debug, Default)]
struct State {
    counters: HashMap<String, Slot>,
    /// Remembered answers and when they expire (Unix ms).
    answers: HashMap<String, (Answer, i64)>,
    batches: u64,
}

/// Counters in this process.
#[derive(Debug, Default)]
pub struct MemoryLimiter {
    state: Mutex<State>,
    /// For fault-isolation tests only: working out a batch of this tenant
    /// panics while the lock is held.
    panics_for: Option<TenantId>,
}

impl MemoryLimiter {
    /// A limiter that panics, holding its lock, on every batch of
    /// `tenant`: what a bug in one tenant's path would do. For tests only.
    pub fn panicking_for(tenant: TenantId) -> Self {
        Self {
            state: Mutex::default(),
            panics_for: Some(tenant),
        }
    }
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Whether `cost` more fits under `ceiling` at usage `used`.
pub(crate) fn fits(used: f64, cost: i64, ceiling: Option<i64>) -> bool {
    ceiling.is_none_or(|ceiling| used + cost as f64 <= ceiling as f64)
}

/// What `item` is granted in `mode` at usage `used`, when the batch as a
/// whole `proceeds`.
fn grant(item: &Item, mode: Mode, used: f64, proceeds: bool) -> i64 {
    match (item.action, mode) {
        (Action::Check, _) | (_, Mode::CheckOnly) => 0,
        (Action::Release, _) => item.cost.min(used.ceil() as i64).max(0),
        // A negative correction stops at zero usage.
        (Action::Charge, Mode::Adjust) => item.cost.max(0_i64.saturating_sub(used.ceil() as i64)),
        (Action::Charge, Mode::AllOrNothing) => {
            if proceeds {
                item.cost
            } else {
                0
            }
        }
        (Action::Charge, Mode::BestEffort) => match item.ceiling {
            None => item.cost,
            Some(ceiling) => item.cost.min((ceiling as f64 - used).floor() as i64).max(0),
        },
    }
}

/// What a batch writes: each changed counter's key and new state.
type Writes = Vec<(String, Slot)>;

impl State {
    /// Works out `batch` at `now` without changing anything: the answer
    /// and the counters to write, or the refusal of a charge that would
    /// take a counter beyond the bounds.
    fn work_out(&self, batch: &Batch, now: i64) -> Result<(Answer, Writes)> {
        let keys: Vec<String> = batch
            .items
            .iter()
            .map(|item| batch.counter_key(item))
            .collect();
        let before: Vec<f64> = batch
            .items
            .iter()
            .zip(&keys)
            .map(|(item, key)| usage(self.counters.get(key), &item.counter, now))
            .collect();
        let fitting: Vec<bool> = batch
            .items
            .iter()
            .zip(&before)
            .map(|(item, used)| {
                item.action == Action::Release
                    || batch.mode == Mode::Adjust
                    || fits(*used, item.cost, item.ceiling)
            })
            .collect();
        let proceeds = fitting.iter().all(|fit| *fit);
        let grants: Vec<i64> = batch
            .items
            .iter()
            .zip(&before)
            .map(|(item, used)| grant(item, batch.mode, *used, proceeds))
            .collect();
        if let Some(index) = (0..grants.len()).find(|index| {
            batch.items[*index].action == Action::Charge
                && overflows(before[*index], grants[*index])
        }) {
            return Err(beyond_usage(&batch.items[index]));
        }
        let mut outcomes = Vec::with_capacity(batch.items.len());
        let mut writes = Vec::new();
        for (index, item) in batch.items.iter().enumerate() {
            let worked = (before[index], grants[index], fitting[index]);
            let (outcome, slot) = self.settle(item, &keys[index], batch.mode, worked, now);
            outcomes.push(outcome);
            if let (Some(slot), true) = (slot, grants[index] != 0) {
                writes.push((keys[index].clone(), slot));
            }
        }
        let answer = Answer {
            outcomes,
            replayed: false,
        };
        Ok((answer, writes))
    }

    /// The outcome of `item` at counter `key`, given its usage before the
    /// batch, its grant and whether it fit, and the counter's new state.
    fn settle(
        &self,
        item: &Item,
        key: &str,
        mode: Mode,
        (used, granted, fit): (f64, i64, bool),
        now: i64,
    ) -> (Outcome, Option<Slot>) {
        let mut slot = self.counters.get(key).cloned();
        if granted != 0 {
            let delta = if item.action == Action::Release {
                -granted
            } else {
                granted
            };
            change(&mut slot, &item.counter, used, delta, now);
        }
        let after = usage(slot.as_ref(), &item.counter, now);
        let allowed = fit || (mode == Mode::BestEffort && granted == item.cost);
        let outcome = Outcome {
            allowed,
            granted,
            used: after.ceil() as i64,
            reset_ms: reset_ms(slot.as_ref(), &item.counter, after, now),
            retry_ms: (!allowed)
                .then(|| retry_ms(slot.as_ref(), item, used, now))
                .flatten(),
            degraded: false,
        };
        (outcome, slot)
    }

    fn sweep(&mut self, now: i64) {
        let now_ms = now / 1000;
        self.answers.retain(|_, (_, expires)| *expires > now_ms);
        self.counters.retain(|_, slot| match slot {
            Slot::Count {
                expires_ms: Some(expires),
                ..
            } => *expires > now_ms,
            Slot::Log(log) => !log.is_empty(),
            Slot::Bucket { level, .. } => *level > 0.0,
            Slot::Count { .. } => true,
        });
    }
}

/// Whether the answer of `batch` is remembered: it was not refused.
/// Check-only answers describe a moment, so they are not remembered either.
pub(crate) fn remembered(batch: &Batch, answer: &Answer) -> bool {
    match batch.mode {
        Mode::CheckOnly => false,
        Mode::AllOrNothing => answer.allowed(),
        Mode::BestEffort | Mode::Adjust => true,
    }
}

#[tonic::async_trait]
impl Limiter for MemoryLimiter {
    async fn apply(&self, batch: &Batch) -> Result<Answer> {
        check_batch(batch)?;
        let now = now_us();
        // A poisoned lock is taken back rather than refused: the state is
        // only changed after a batch is worked out in full (see the module
        // docs), so a panic cannot have left it half-changed, and refusing
        // would turn one tenant's panic into every tenant's INTERNAL until
        // a restart.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if self.panics_for == Some(batch.tenant_id) {
            panic!("injected fault for tenant {}", batch.tenant_id);
        }
        let answer_key = batch.answer_key();
        if let Some(key) = &answer_key
            && let Some((answer, expires)) = state.answers.get(key)
            && *expires > now / 1000
        {
            let mut replay = answer.clone();
            replay.replayed = true;
            return Ok(replay);
        }
        let (answer, writes) = state.work_out(batch, now)?;
        state.counters.extend(writes);
        if let Some(key) = answer_key
            && remembered(batch, &answer)
        {
            let ttl = i64::try_from(IDEMPOTENCY_TTL.as_millis()).unwrap_or(i64::MAX);
            state
                .answers
                .insert(key, (answer.clone(), now / 1000 + ttl));
        }
        state.batches = state.batches.wrapping_add(1);
        if state.batches.is_multiple_of(SWEEP_EVERY) {
            state.sweep(now);
        }
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use std::panic::AssertUnwindSafe;

    use super::*;
    use crate::common::ids::TenantId;
    use crate::error::Error;
    use crate::quota::limiter::Counter;
    use crate::quota::limiter::bounds::MAX_AMOUNT;

    fn adjust(tenant_id: TenantId, cost: i64) -> Batch {
        Batch {
            tenant_id,
            operation: "allocate",
            request_id: None,
            mode: Mode::Adjust,
            items: vec![Item {
                quota: "seats".to_owned(),
                counter: Counter::Allocation,
                action: Action::Charge,
                cost,
                ceiling: Some(10),
                field: "costs[0].cost".to_owned(),
            }],
        }
    }

    #[tokio::test]
    async fn a_poisoned_lock_does_not_outlive_its_panic() {
        let limiter = MemoryLimiter::default();
        let tenant = TenantId::from_uuid(uuid::Uuid::now_v7());
        limiter.apply(&adjust(tenant, 3)).await.expect("first");
        let panicked = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let _guard = limiter.state.lock();
            panic!("a panic while the lock is held");
        }));
        assert!(panicked.is_err() && limiter.state.is_poisoned());
        let answer = limiter.apply(&adjust(tenant, 2)).await.expect("answered");
        assert_eq!(answer.outcomes[0].used, 5, "the state was kept");
    }

    #[tokio::test]
    async fn charges_past_the_maximum_change_nothing() {
        let limiter = MemoryLimiter::default();
        let tenant = TenantId::from_uuid(uuid::Uuid::now_v7());
        for _ in 0..4 {
            limiter
                .apply(&adjust(tenant, MAX_AMOUNT))
                .await
                .expect("fits");
        }
        let refused = limiter.apply(&adjust(tenant, 1)).await;
        assert!(
            matches!(&refused, Err(Error::InvalidArgument(violations)) if violations[0].field == "costs[0].cost"),
            "{refused:?}"
        );
        let over = limiter.apply(&adjust(tenant, i64::MAX)).await;
        assert!(matches!(over, Err(Error::InvalidArgument(_))), "{over:?}");
        let answer = limiter.apply(&adjust(tenant, -1)).await.expect("lowered");
        assert_eq!(answer.outcomes[0].used, 4 * MAX_AMOUNT - 1);
    }

    #[tokio::test]
    async fn negative_corrections_stop_at_zero() {
        let limiter = MemoryLimiter::default();
        let tenant = TenantId::from_uuid(uuid::Uuid::now_v7());
        limiter.apply(&adjust(tenant, 3)).await.expect("raised");
        let answer = limiter.apply(&adjust(tenant, -5)).await.expect("lowered");
        assert_eq!(
            (answer.outcomes[0].granted, answer.outcomes[0].used),
            (-3, 0)
        );
    }
}
