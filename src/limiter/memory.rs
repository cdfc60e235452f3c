//! The in-process limiter: every counter in one map behind a mutex, so a
//! batch is atomic within this replica (and only there: with several
//! replicas, configure Redis). Same semantics as [`super::redis`], whose
//! Lua script this code mirrors step for step.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use super::{Action, Answer, Batch, Counter, IDEMPOTENCY_TTL, Item, Limiter, Mode, Outcome};
use crate::error::{Error, Result};

/// Expired counters and answers are swept after this many batches.
const SWEEP_EVERY: u64 = 4096;

/// One counter's state.
#[derive(Debug, Clone)]
enum Slot {
    /// Tokens missing from a bucket, as of `at_us`.
    Bucket { level: f64, at_us: i64 },
    /// Charges `(stamp µs, cost)`, oldest first.
    Log(VecDeque<(i64, i64)>),
    /// A plain count, dropped at `expires_ms` when set.
    Count { value: i64, expires_ms: Option<i64> },
}

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
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Usage of `slot` at `now`: tokens missing, charges in the window, or the
/// count.
fn usage(slot: Option<&Slot>, counter: &Counter, now: i64) -> f64 {
    match (slot, counter) {
        (Some(Slot::Bucket { level, at_us }), Counter::TokenBucket { limit, period_ms }) => {
            let refilled = (now - at_us) as f64 * *limit as f64 / (*period_ms as f64 * 1000.0);
            (level - refilled).max(0.0)
        }
        (Some(Slot::Log(log)), Counter::SlidingWindow { period_ms }) => log
            .iter()
            .filter(|(stamp, _)| *stamp > now - period_ms * 1000)
            .map(|(_, cost)| *cost as f64)
            .sum(),
        (Some(Slot::Count { value, expires_ms }), _) => match expires_ms {
            Some(expires) if *expires <= now / 1000 => 0.0,
            _ => *value as f64,
        },
        _ => 0.0,
    }
}

/// What a refused cost waits for, in ms; `None` when waiting cannot help.
fn retry_ms(slot: Option<&Slot>, item: &Item, used: f64, now: i64) -> Option<i64> {
    let ceiling = item.ceiling?;
    if item.cost > ceiling {
        return None;
    }
    let excess = used + item.cost as f64 - ceiling as f64;
    match (&item.counter, slot) {
        (Counter::TokenBucket { limit, period_ms }, _) if *limit > 0 => {
            Some((excess * *period_ms as f64 / *limit as f64).ceil() as i64)
        }
        (Counter::SlidingWindow { period_ms }, Some(Slot::Log(log))) => {
            let mut freed = 0.0;
            for (stamp, cost) in log
                .iter()
                .filter(|(stamp, _)| *stamp > now - period_ms * 1000)
            {
                freed += *cost as f64;
                if freed >= excess {
                    return Some((stamp + period_ms * 1000 - now + 999) / 1000);
                }
            }
            None
        }
        (Counter::Periodic { reset_ms, .. }, _) => Some(reset_ms - now / 1000),
        _ => None,
    }
}

/// Adds `delta` (negative to release) to the counter; usage was `used`.
fn change(slot: &mut Option<Slot>, counter: &Counter, used: f64, delta: i64, now: i64) {
    match counter {
        Counter::TokenBucket { .. } => {
            *slot = Some(Slot::Bucket {
                level: (used + delta as f64).max(0.0),
                at_us: now,
            });
        }
        Counter::SlidingWindow { period_ms } => {
            let mut log = match slot.take() {
                Some(Slot::Log(log)) => log,
                _ => VecDeque::new(),
            };
            log.retain(|(stamp, _)| *stamp > now - period_ms * 1000);
            if delta > 0 {
                log.push_back((now, delta));
            }
            // A release refunds the newest charges first.
            let mut refund = -delta;
            while refund > 0 {
                let Some((stamp, cost)) = log.pop_back() else {
                    break;
                };
                if cost > refund {
                    log.push_back((stamp, cost - refund));
                }
                refund -= cost;
            }
            *slot = Some(Slot::Log(log));
        }
        Counter::Periodic { reset_ms, .. } => {
            *slot = Some(Slot::Count {
                value: used as i64 + delta,
                expires_ms: Some(*reset_ms),
            });
        }
        Counter::Allocation => {
            *slot = Some(Slot::Count {
                value: used as i64 + delta,
                expires_ms: None,
            });
        }
    }
}

/// When usage returns to zero, Unix ms.
fn reset_ms(slot: Option<&Slot>, counter: &Counter, used: f64, now: i64) -> Option<i64> {
    match counter {
        Counter::TokenBucket { limit, period_ms } if *limit > 0 => {
            Some(now / 1000 + (used * *period_ms as f64 / *limit as f64).ceil() as i64)
        }
        Counter::TokenBucket { .. } => None,
        Counter::SlidingWindow { period_ms } => match slot {
            Some(Slot::Log(log)) if used > 0.0 => log
                .back()
                .map(|(stamp, _)| (stamp + period_ms * 1000 + 999) / 1000),
            _ => Some(now / 1000),
        },
        Counter::Periodic { reset_ms, .. } => Some(*reset_ms),
        Counter::Allocation => None,
    }
}

/// Whether `cost` more fits under `ceiling` at usage `used`.
pub(super) fn fits(used: f64, cost: i64, ceiling: Option<i64>) -> bool {
    ceiling.is_none_or(|ceiling| used + cost as f64 <= ceiling as f64)
}

/// What `item` is granted in `mode` at usage `used`, when the batch as a
/// whole `proceeds`.
fn grant(item: &Item, mode: Mode, used: f64, proceeds: bool) -> i64 {
    match (item.action, mode) {
        (Action::Check, _) | (_, Mode::CheckOnly) => 0,
        (Action::Release, _) => item.cost.min(used.ceil() as i64).max(0),
        (Action::Charge, Mode::Adjust) => item.cost,
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

impl State {
    fn apply(&mut self, batch: &Batch, now: i64) -> Answer {
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
        let mut outcomes = Vec::with_capacity(batch.items.len());
        for (index, item) in batch.items.iter().enumerate() {
            let used = before[index];
            let granted = grant(item, batch.mode, used, proceeds);
            let mut slot = self.counters.remove(&keys[index]);
            if granted != 0 {
                let delta = if item.action == Action::Release {
                    -granted
                } else {
                    granted
                };
                change(&mut slot, &item.counter, used, delta, now);
            }
            let after = usage(slot.as_ref(), &item.counter, now);
            let allowed =
                fitting[index] || (batch.mode == Mode::BestEffort && granted == item.cost);
            outcomes.push(Outcome {
                allowed,
                granted,
                used: after.ceil() as i64,
                reset_ms: reset_ms(slot.as_ref(), &item.counter, after, now),
                retry_ms: (!allowed)
                    .then(|| retry_ms(slot.as_ref(), item, used, now))
                    .flatten(),
                degraded: false,
            });
            if let Some(slot) = slot {
                self.counters.insert(keys[index].clone(), slot);
            }
        }
        Answer {
            outcomes,
            replayed: false,
        }
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
pub(super) fn remembered(batch: &Batch, answer: &Answer) -> bool {
    match batch.mode {
        Mode::CheckOnly => false,
        Mode::AllOrNothing => answer.allowed(),
        Mode::BestEffort | Mode::Adjust => true,
    }
}

#[tonic::async_trait]
impl Limiter for MemoryLimiter {
    async fn apply(&self, batch: &Batch) -> Result<Answer> {
        let now = now_us();
        let mut state = self
            .state
            .lock()
            .map_err(|_| Error::internal("the in-process limiter's lock is poisoned"))?;
        let answer_key = batch.answer_key();
        if let Some(key) = &answer_key
            && let Some((answer, expires)) = state.answers.get(key)
            && *expires > now / 1000
        {
            let mut replay = answer.clone();
            replay.replayed = true;
            return Ok(replay);
        }
        let answer = state.apply(batch, now);
        if let Some(key) = answer_key
            && remembered(batch, &answer)
        {
            let ttl = i64::try_from(IDEMPOTENCY_TTL.as_millis()).unwrap_or(i64::MAX);
            state
                .answers
                .insert(key, (answer.clone(), now / 1000 + ttl));
        }
        state.batches += 1;
        if state.batches.is_multiple_of(SWEEP_EVERY) {
            state.sweep(now);
        }
        Ok(answer)
    }
}
