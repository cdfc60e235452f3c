//! Writing this replica's call counts to the database, and deleting every
//! replica's counts past their retention: what the server's flush job runs
//! (every `--tenant-health-flush-interval`, and once more at shutdown).
//!
//! A failed flush keeps everything in memory for the next one (the call
//! log bounds how much); an outage is logged once when it starts and once
//! when it ends, not at every tick, and so are the minutes it cost.

use crate::error::{Result, error_chain};
use crate::slo::call_log::{CallLog, current_minute};
use crate::store::Store;

/// How long stored minutes are kept: a day's window and a day more.
pub const RETENTION_MINUTES: i64 = 2 * 24 * 60;

/// Flushes one replica's call log, remembering what it already reported.
#[derive(Debug)]
pub struct Flusher {
    /// What is flushed.
    log: CallLog,
    /// Where to.
    store: Store,
    /// Whether the last flush failed (its failure was logged).
    failing: bool,
    /// Whether lost minutes were logged since the last clean flush.
    loss_reported: bool,
}

impl Flusher {
    /// Flushes `log` to `store`.
    pub fn new(log: CallLog, store: Store) -> Self {
        Self {
            log,
            store,
            failing: false,
            loss_reported: false,
        }
    }

    /// Writes every changed minute; logs a failure once, until a flush
    /// succeeds again.
    pub async fn flush(&mut self) {
        let dropped = self.log.take_dropped();
        if dropped > 0 && !self.loss_reported {
            self.loss_reported = true;
            tracing::warn!(
                minutes = dropped,
                "per-tenant call counts were dropped: the database has been unreachable too long to keep them all"
            );
        }
        match flush(&self.log, &self.store).await {
            Ok(written) => {
                if self.failing {
                    tracing::info!(
                        minutes = written,
                        "per-tenant call counts are written again"
                    );
                }
                self.failing = false;
                self.loss_reported = self.loss_reported && dropped > 0;
            }
            Err(error) if !self.failing => {
                self.failing = true;
                tracing::warn!(error = %error_chain(&error), "writing per-tenant call counts failed; keeping them for the next flush");
            }
            Err(error) => {
                tracing::debug!(error = %error_chain(&error), "writing per-tenant call counts still fails");
            }
        }
    }

    /// Deletes every replica's minutes past [`RETENTION_MINUTES`].
    pub async fn purge(&self) {
        match purge(&self.store, current_minute()).await {
            Ok(0) => {}
            Ok(deleted) => {
                tracing::debug!(deleted, "per-tenant call counts past retention deleted")
            }
            Err(error) => {
                tracing::warn!(error = %error_chain(&error), "deleting old per-tenant call counts failed");
            }
        }
    }
}

/// Writes `log`'s changed minutes to `store` and forgets the ended ones
/// it wrote; how many minutes were written.
pub async fn flush(log: &CallLog, store: &Store) -> Result<usize> {
    let now = current_minute();
    let unwritten = log.unwritten();
    if !unwritten.is_empty() {
        store.put_call_minutes(log.replica(), &unwritten).await?;
    }
    log.written(&unwritten, now);
    Ok(unwritten.len())
}

/// Deletes the minutes before `now`'s retention; how many rows.
pub async fn purge(store: &Store, now: i64) -> Result<u64> {
    store
        .delete_call_minutes_before(now.saturating_sub(RETENTION_MINUTES))
        .await
}
