//! One counter of the in-process limiter: its state (a token bucket, a
//! sliding-window log or a plain count) and the arithmetic on it, mirroring
//! the Redis limiter's Lua script step for step. All of it is bounded by
//! [`crate::quota::limiter::bounds`] or saturating, so none of it panics.

use std::collections::VecDeque;

use crate::quota::limiter::bounds::clamp_wait;
use crate::quota::limiter::{Counter, Item};

/// One counter's state.
#[derive(Debug, Clone)]
pub(super) enum Slot {
    /// Tokens missing from a bucket, as of `at_us`.
    Bucket { level: f64, at_us: i64 },
    /// Charges `(stamp µs, cost)`, oldest first.
    Log(VecDeque<(i64, i64)>),
    /// A plain count, dropped at `expires_ms` when set.
    Count { value: i64, expires_ms: Option<i64> },
}

/// Usage of `slot` at `now`: tokens missing, charges in the window, or the
/// count.
pub(super) fn usage(slot: Option<&Slot>, counter: &Counter, now: i64) -> f64 {
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
pub(super) fn retry_ms(slot: Option<&Slot>, item: &Item, used: f64, now: i64) -> Option<i64> {
    let ceiling = item.ceiling?;
    if item.cost > ceiling {
        return None;
    }
    let excess = used + item.cost as f64 - ceiling as f64;
    match (&item.counter, slot) {
        (Counter::TokenBucket { limit, period_ms }, _) if *limit > 0 => {
            Some(clamp_wait(excess * *period_ms as f64 / *limit as f64))
        }
        (Counter::SlidingWindow { period_ms }, Some(Slot::Log(log))) => {
            let mut freed = 0.0;
            for (stamp, cost) in log
                .iter()
                .filter(|(stamp, _)| *stamp > now - period_ms * 1000)
            {
                freed += *cost as f64;
                if freed >= excess {
                    return Some(clamp_wait((stamp + period_ms * 1000 - now) as f64 / 1000.0));
                }
            }
            None
        }
        (Counter::Periodic { reset_ms, .. }, _) => {
            Some(clamp_wait(reset_ms.saturating_sub(now / 1000) as f64))
        }
        _ => None,
    }
}

/// Adds `delta` (negative to release) to the counter; usage was `used`.
/// Never below zero; the caller keeps usage within the bounds.
pub(super) fn change(slot: &mut Option<Slot>, counter: &Counter, used: f64, delta: i64, now: i64) {
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
                value: (used as i64).saturating_add(delta).max(0),
                expires_ms: Some(*reset_ms),
            });
        }
        Counter::Allocation => {
            *slot = Some(Slot::Count {
                value: (used as i64).saturating_add(delta).max(0),
                expires_ms: None,
            });
        }
    }
}

/// When usage returns to zero, Unix ms.
pub(super) fn reset_ms(slot: Option<&Slot>, counter: &Counter, used: f64, now: i64) -> Option<i64> {
    match counter {
        Counter::TokenBucket { limit, period_ms } if *limit > 0 => {
            Some(now / 1000 + clamp_wait(used * *period_ms as f64 / *limit as f64))
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
