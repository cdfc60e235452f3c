//! Background tasks every replica runs while it serves: caches kept true to
//! every replica's changes, and API key uses written in batches.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::changefeed::Change;
use crate::domain::gate::Gate;
use crate::storage::Store;

/// Hands every change the store announces (this replica's and, on
/// PostgreSQL, every other's) to `invalidate`, until the feed closes.
pub fn spawn_invalidation(
    store: &Store,
    invalidate: impl Fn(Change) + Send + 'static,
) -> JoinHandle<()> {
    let mut changes = store.changes();
    tokio::spawn(async move {
        while let Some(change) = changes.next().await {
            invalidate(change);
        }
    })
}

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
