//! Keeping the daily rollups true to the raw events: folding new events in
//! (the job of `crate::server::jobs`), recomputing days on an operator's request,
//! and deleting raw events once their retention has passed.
//!
//! Invariants kept here:
//! - a rollup always equals the recomputation of its day from the events
//!   below the watermark: folds and recomputations move rollups and
//!   watermark together, one at a time (see `storage::usage_aggregation`);
//! - raw events are deleted only when their day is final (older than the
//!   acceptance window, so no event can change it) and the retention has
//!   passed since; their rollups stay. A day whose events may be gone is
//!   never recomputed, since that would empty its rollups.
//!
//! Rollups lag ingestion by up to one aggregation interval (plus the time of
//! a fold). QueryUsage does not catch up first: reading would then queue
//! behind the lock on every replica, and the lag is what
//! [`Rollups::progress`] reports (`aggregated_through`).

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use crate::access::PlatformScope;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::scope::Scope;
use crate::usage::alerts::UsageChanges;
use crate::usage::event::UsageSettings;
use crate::usage::store::aggregation::AggregationProgress;

/// Events one fold reads at most, bounding its memory and transaction.
pub const FOLD_EVENTS: usize = 20_000;

/// How raw events are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionSettings {
    /// The late-arrival window: a day is final once it is older.
    pub usage: UsageSettings,
    /// How long raw events are kept after their day is final.
    pub retention: TimeDelta,
}

impl RetentionSettings {
    /// The first day whose raw events are still kept at `now`.
    pub fn first_kept_day(&self, now: DateTime<Utc>) -> NaiveDate {
        (now - self.usage.acceptance_window - self.retention).date_naive()
    }
}

/// Rollup upkeep over one store; cheap to clone.
#[derive(Clone)]
pub struct Rollups {
    /// Where events and rollups are.
    store: Store,
    /// When raw events may go.
    settings: RetentionSettings,
    /// Where folded usage is announced, for allowance alerts.
    changes: UsageChanges,
}

fn system() -> Scope {
    Scope::from(&PlatformScope::system())
}

impl Rollups {
    /// Upkeep of `store`'s rollups; what each fold changes is marked in
    /// `changes`.
    pub fn new(store: Store, settings: RetentionSettings, changes: UsageChanges) -> Self {
        Self {
            store,
            settings,
            changes,
        }
    }

    /// Folds every committed event into the rollups; answers how many, or
    /// `None` when another replica holds the aggregation lock.
    pub async fn catch_up(&self) -> Result<Option<usize>> {
        let mut folded = 0;
        loop {
            let Some(fold) = self.store.fold_usage(FOLD_EVENTS).await? else {
                return Ok((folded > 0).then_some(folded));
            };
            folded += fold.events;
            for (tenant_id, metrics) in fold.changed {
                self.changes.mark(tenant_id, metrics);
            }
            if fold.caught_up {
                return Ok(Some(folded));
            }
        }
    }

    /// Deletes raw events whose retention has passed at `now`.
    pub async fn purge(&self, now: DateTime<Utc>) -> Result<u64> {
        self.store
            .purge_usage_events(self.settings.first_kept_day(now))
            .await
    }

    /// Recomputes `day` from its raw events; answers how many it read.
    /// Refused for days whose raw events may have been deleted.
    pub async fn reaggregate(&self, day: NaiveDate, now: DateTime<Utc>) -> Result<usize> {
        let first_kept = self.settings.first_kept_day(now);
        if day < first_kept {
            return Err(Error::failed_precondition(
                "USAGE_EVENTS_PURGED",
                "USAGE_DAY",
                day.to_string(),
                format!(
                    "raw events before {first_kept} may have been deleted (retention); their rollups are kept as they are"
                ),
            ));
        }
        self.store.reaggregate_usage_day(day).await
    }

    /// How far aggregation has reached: every event acknowledged before
    /// `aggregated_through` is in the rollups.
    pub async fn progress(&self) -> Result<AggregationProgress> {
        self.store.usage_aggregation_progress(system()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_kept_for_the_window_and_the_retention() {
        let settings = RetentionSettings {
            usage: UsageSettings::default(),
            retention: TimeDelta::days(35),
        };
        let now = DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z")
            .map(|time| time.with_timezone(&Utc))
            .unwrap_or_default();
        let first = settings.first_kept_day(now);
        assert_eq!(first.to_string(), "2026-01-18", "42 days before");
        assert!(settings.usage.is_closed(first, now), "a kept day is final");
    }
}
