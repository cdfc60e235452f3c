//! Background tasks every replica runs while it serves: API key uses
//! written in batches, and per-tenant call counts written every flush
//! interval with old ones deleted hourly. (Caches are kept true to every
//! replica's changes by hooks on the change feed,
//! [`crate::store::Store::on_change`].)

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::access::gate::Gate;
use crate::slo::Flusher;

/// How often per-tenant call counts past their retention are looked for.
/// Every replica deletes them: the delete is idempotent and cheap (by the
/// `minute` index), so no lock decides who does.
const CALL_COUNT_PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Writes the gate's noted key uses every `flush_every`.
pub fn spawn_key_use_flush(gate: &Gate, flush_every: Duration) -> JoinHandle<()> {
    let flushed = gate.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(flush_every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            flushed.flush_key_uses().await;
        }
    })
}

/// Writes this replica's per-tenant call counts every `flush_every`, and
/// deletes every replica's counts past their retention once an hour
/// (and at start).
pub fn spawn_call_count_flush(mut flusher: Flusher, flush_every: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(flush_every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_purge: Option<tokio::time::Instant> = None;
        loop {
            ticks.tick().await;
            flusher.flush().await;
            if last_purge.is_none_or(|at| at.elapsed() >= CALL_COUNT_PURGE_EVERY) {
                last_purge = Some(tokio::time::Instant::now());
                flusher.purge().await;
            }
        }
    })
}
