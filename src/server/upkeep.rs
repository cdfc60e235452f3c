//! Background tasks every replica runs while it serves: API key uses
//! written in batches. (Caches are kept true to every replica's changes by
//! hooks on the change feed, [`crate::store::Store::on_change`].)

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::access::gate::Gate;

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
