//! Folding recorded usage events into `usage_rollups`, from a watermark.
//!
//! Invariants kept here:
//! - the watermark (`usage_aggregation.position`) moves in the same
//!   transaction as the rollups it accounts for: every event whose position
//!   is below it is in the rollups exactly once, none at or above it is;
//! - an event's position is its recording transaction's xid on PostgreSQL
//!   (`ingest_xid`) and its `rowid` on SQLite. A fold reads only events
//!   below the *horizon*: on PostgreSQL `pg_snapshot_xmin` of its snapshot,
//!   below which every transaction has ended (so none can still commit an
//!   event under the watermark; a plain sequence would not do, as a lower
//!   value may commit after a higher one); on SQLite, where writers are
//!   serialised, one past the greatest `rowid`;
//! - one fold or recomputation runs at a time: on PostgreSQL they take the
//!   transaction-scoped advisory lock [`LockKey::Aggregation`] (folds only try
//!   it, so a busy replica skips its turn), on SQLite the single connection
//!   serialises them;
//! - SUM, COUNT, MAX and LATEST merge incrementally; UNIQUE_COUNT adds the
//!   folded events' values to `usage_unique_values` and recounts its day
//!   from them, so its days and months outlive the raw events.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{Alias, ExprTrait};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, QueryResult, Statement,
};

use crate::common::ids::TenantId;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::entities::usage_rollup;
use crate::store::lock::{self, LockKey};
use crate::store::scope::Scope;
use crate::usage::event::ValidEvent;
use crate::usage::metric::Aggregation;
use crate::usage::store::events::{day_text, parse_day};
use crate::usage::store::rollup_statements::unique_values_delete;

/// The name of the daily job's row in `usage_aggregation`.
const JOB: &str = "daily";

/// What one fold did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fold {
    /// Events added to the rollups.
    pub events: usize,
    /// Whether the watermark reached the horizon (nothing committed is left).
    pub caught_up: bool,
    /// The metrics whose rollups changed, by tenant.
    pub changed: BTreeMap<TenantId, BTreeSet<String>>,
}

/// How far aggregation has reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AggregationProgress {
    /// The watermark: events recorded at positions below it are in the
    /// rollups (an xid on PostgreSQL, a rowid on SQLite).
    pub position: i64,
    /// Every event acknowledged before this time is in the rollups; `None`
    /// before the first fold that caught up.
    pub aggregated_through: Option<DateTime<Utc>>,
}

/// The stored watermark.
struct Watermark {
    /// Events below it are in the rollups.
    position: i64,
    /// (position, time): every event committed before the time is below
    /// the position.
    pending: Option<(i64, DateTime<Utc>)>,
}

/// What a fold's snapshot says.
struct Horizon {
    /// Every transaction below it has ended.
    below: i64,
    /// The next position to be assigned.
    next: i64,
    /// Every transaction committed before this time is below `next`.
    at: DateTime<Utc>,
}

/// The position column of `usage_events`, as a bigint.
fn position_of(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => "e.ingest_xid::text::bigint",
        _ => "e.rowid",
    }
}

/// The order of positions, as an index on them serves it.
fn position_order(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => "e.ingest_xid",
        _ => "e.rowid",
    }
}

/// `e`'s position compared with `position`, in a form an index serves.
pub(crate) fn position_is(backend: DbBackend, operator: &str, position: i64) -> String {
    match backend {
        DbBackend::Postgres => format!("e.ingest_xid {operator} '{position}'::xid8"),
        _ => format!("e.rowid {operator} {position}"),
    }
}

impl Store {
    async fn raw_one(&self, txn: &DatabaseTransaction, sql: String) -> Result<QueryResult> {
        txn.query_one_raw(Statement::from_string(self.backend(), sql))
            .await?
            .ok_or_else(|| Error::internal("a one-row query answered no row"))
    }

    /// Takes the aggregation lock for the rest of `txn` (PostgreSQL; SQLite
    /// serialises through its one connection). With `wait` false, answers
    /// `false` at once when another transaction holds it.
    async fn lock_aggregation(&self, txn: &DatabaseTransaction, wait: bool) -> Result<bool> {
        lock::hold(txn, LockKey::Aggregation, wait).await
    }

    async fn watermark(&self, txn: &DatabaseTransaction) -> Result<Watermark> {
        let sql = format!(
            "SELECT position, pending_position, pending_through \
             FROM usage_aggregation WHERE name = '{JOB}'"
        );
        let row = self.raw_one(txn, sql).await?;
        let pending_position = row.try_get::<Option<i64>>("", "pending_position")?;
        let pending_through = row.try_get::<Option<DateTime<Utc>>>("", "pending_through")?;
        Ok(Watermark {
            position: row.try_get::<i64>("", "position")?,
            pending: pending_position.zip(pending_through),
        })
    }

    /// The horizon (see the module docs), the next position to be
    /// assigned, and a time before which every commit is below the latter.
    async fn horizon(&self, txn: &DatabaseTransaction) -> Result<Horizon> {
        if self.backend() != DbBackend::Postgres {
            let sql = "SELECT COALESCE(MAX(rowid), 0) + 1 AS horizon FROM usage_events".to_owned();
            let row = self.raw_one(txn, sql).await?;
            let horizon = row.try_get::<i64>("", "horizon")?;
            return Ok(Horizon {
                below: horizon,
                next: horizon,
                at: Utc::now(),
            });
        }
        // now() is when this transaction began, before the snapshot: every
        // transaction committed by then has an xid below the snapshot's xmax.
        let sql = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS horizon, \
                   pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS next, now() AS at"
            .to_owned();
        let row = self.raw_one(txn, sql).await?;
        Ok(Horizon {
            below: row.try_get::<i64>("", "horizon")?,
            next: row.try_get::<i64>("", "next")?,
            at: row.try_get::<DateTime<Utc>>("", "at")?,
        })
    }

    /// Events of `filter` with their positions, ordered by position, at
    /// most `limit`.
    async fn events_where(
        &self,
        txn: &DatabaseTransaction,
        filter: &str,
        limit: Option<usize>,
    ) -> Result<Vec<(i64, ValidEvent)>> {
        let position = position_of(self.backend());
        let order = position_order(self.backend());
        let limit = limit
            .map(|limit| format!(" LIMIT {limit}"))
            .unwrap_or_default();
        let sql = format!(
            "SELECT {position} AS position, e.tenant_id, e.event_id, e.metric, e.quantity, \
             e.occurred_time, e.day, e.unique_value, m.aggregation \
             FROM usage_events e JOIN usage_metrics m ON m.key = e.metric \
             WHERE {filter} ORDER BY {order}{limit}"
        );
        let rows = txn
            .query_all_raw(Statement::from_string(self.backend(), sql))
            .await?;
        rows.iter().map(event_from_row).collect()
    }

    /// Folds events committed since the watermark (at most about
    /// `most_events`) into the rollups and moves the watermark past them;
    /// `None` when another replica holds the aggregation lock.
    pub async fn fold_usage(&self, most_events: usize) -> Result<Option<Fold>> {
        // Held elsewhere, the lock leaves this transaction with nothing
        // written, so it commits as a rollback would end it.
        let folded = self
            .write_unannounced(Scope::Platform, async |txn| {
                if !self.lock_aggregation(txn, false).await? {
                    return Ok(None);
                }
                self.fold_from_watermark(txn, most_events).await.map(Some)
            })
            .await?;
        Ok(folded.map(|(events, caught_up)| {
            let mut changed: BTreeMap<TenantId, BTreeSet<String>> = BTreeMap::new();
            for event in &events {
                changed
                    .entry(event.tenant_id)
                    .or_default()
                    .insert(event.metric.clone());
            }
            Fold {
                events: events.len(),
                caught_up,
                changed,
            }
        }))
    }

    /// Folds the events since the watermark (about `most_events`) into the
    /// rollups and moves the watermark past them, in `txn`, which holds the
    /// aggregation lock; the events folded and whether the watermark
    /// reached the horizon.
    async fn fold_from_watermark(
        &self,
        txn: &DatabaseTransaction,
        most_events: usize,
    ) -> Result<(Vec<ValidEvent>, bool)> {
        let watermark = self.watermark(txn).await?;
        let horizon = self.horizon(txn).await?;
        let (events, to) = self
            .events_to_fold(txn, watermark.position, horizon.below, most_events)
            .await?;
        self.merge_into_rollups(txn, &events).await?;
        // The pending pair becomes the reached time once the watermark passed
        // it; a new pair is taken only then, so one is always on its way.
        let (through, pending) = match watermark.pending {
            Some((position, at)) if to >= position => (Some(at), (horizon.next, horizon.at)),
            None => (None, (horizon.next, horizon.at)),
            Some(kept) => (None, kept),
        };
        self.set_watermark(txn, to, through, pending).await?;
        Ok((events, to == horizon.below))
    }

    /// The events from `from` up to `horizon` (about `most` of them, whole
    /// transactions only) and the watermark past them.
    async fn events_to_fold(
        &self,
        txn: &DatabaseTransaction,
        from: i64,
        horizon: i64,
        most: usize,
    ) -> Result<(Vec<ValidEvent>, i64)> {
        let backend = self.backend();
        let range = format!(
            "{} AND {}",
            position_is(backend, ">=", from),
            position_is(backend, "<", horizon)
        );
        let mut events = self.events_where(txn, &range, Some(most + 1)).await?;
        let mut to = horizon;
        if events.len() > most {
            // Stop before the last position read, which may be cut short:
            // one position is one transaction, folded whole or not at all.
            let last = events[most].0;
            events.retain(|(position, _)| *position < last);
            if events.is_empty() {
                let only = position_is(backend, "=", last);
                events = self.events_where(txn, &only, None).await?;
                to = last + 1;
            } else {
                to = last;
            }
        }
        Ok((events.into_iter().map(|(_, event)| event).collect(), to))
    }

    async fn set_watermark(
        &self,
        txn: &DatabaseTransaction,
        position: i64,
        through: Option<DateTime<Utc>>,
        (pending_position, pending_through): (i64, DateTime<Utc>),
    ) -> Result<()> {
        let mut update = Query::update();
        update
            .table(Alias::new("usage_aggregation"))
            .value(Alias::new("position"), position)
            .value(Alias::new("pending_position"), pending_position)
            .value(Alias::new("pending_through"), pending_through)
            .value(Alias::new("update_time"), Utc::now())
            .and_where(Expr::col(Alias::new("name")).eq(JOB));
        if let Some(through) = through {
            update.value(Alias::new("aggregated_through"), through);
        }
        txn.execute_raw(self.backend().build(&update)).await?;
        Ok(())
    }

    /// Recomputes the rollups of `day` from its events below the watermark,
    /// waiting for the aggregation lock; answers how many events it read.
    pub async fn reaggregate_usage_day(&self, day: NaiveDate) -> Result<usize> {
        self.write_unannounced(Scope::Platform, async |txn| {
            self.lock_aggregation(txn, true).await?;
            let watermark = self.watermark(txn).await?.position;
            let delete = Query::delete()
                .from_table(usage_rollup::Entity)
                .and_where(usage_rollup::Column::Day.eq(day_text(day)))
                .to_owned();
            txn.execute_raw(self.backend().build(&delete)).await?;
            txn.execute_raw(self.backend().build(&unique_values_delete(day)))
                .await?;
            let filter = format!(
                "e.day = '{}' AND {}",
                day_text(day),
                position_is(self.backend(), "<", watermark)
            );
            let events: Vec<ValidEvent> = self
                .events_where(txn, &filter, None)
                .await?
                .into_iter()
                .map(|(_, event)| event)
                .collect();
            self.merge_into_rollups(txn, &events).await?;
            Ok(events.len())
        })
        .await
    }

    /// How far aggregation has reached.
    pub async fn usage_aggregation_progress(&self, scope: Scope) -> Result<AggregationProgress> {
        let sql = format!(
            "SELECT position, aggregated_through FROM usage_aggregation WHERE name = '{JOB}'"
        );
        let row = self
            .read_in(scope, async |txn| self.raw_one(txn, sql).await)
            .await?;
        Ok(AggregationProgress {
            position: row.try_get::<i64>("", "position")?,
            aggregated_through: row.try_get::<Option<DateTime<Utc>>>("", "aggregated_through")?,
        })
    }

    /// Deletes the raw events of days before `before` (their rollups stay);
    /// answers how many. On SQLite the event with the greatest rowid stays,
    /// so rowids are never reused under the watermark.
    pub async fn purge_usage_events(&self, before: NaiveDate) -> Result<u64> {
        let mut sql = format!(
            "DELETE FROM usage_events WHERE day < '{}'",
            day_text(before)
        );
        if self.backend() != DbBackend::Postgres {
            sql.push_str(" AND rowid < (SELECT MAX(rowid) FROM usage_events)");
        }
        let delete = Statement::from_string(self.backend(), sql);
        let done = self
            .write_unannounced(Scope::Platform, async |txn| {
                Ok(txn.execute_raw(delete).await?)
            })
            .await?;
        Ok(done.rows_affected())
    }
}

fn event_from_row(row: &QueryResult) -> Result<(i64, ValidEvent)> {
    let get_text = |column: &str| row.try_get::<String>("", column).map_err(Error::from);
    let aggregation_text = get_text("aggregation")?;
    let aggregation = Aggregation::parse(&aggregation_text)
        .ok_or_else(|| Error::internal(format!("unknown aggregation {aggregation_text:?}")))?;
    let tenant_id = row.try_get::<uuid::Uuid>("", "tenant_id")?;
    let event = ValidEvent {
        tenant_id: TenantId::from_uuid(tenant_id),
        event_id: get_text("event_id")?,
        metric: get_text("metric")?,
        aggregation,
        quantity: row.try_get::<f64>("", "quantity")?,
        occurred_time: row.try_get::<DateTime<Utc>>("", "occurred_time")?,
        day: parse_day(&get_text("day")?)?,
        dimensions: BTreeMap::new(),
        unique_value: row.try_get::<Option<String>>("", "unique_value")?,
    };
    let position = row.try_get::<i64>("", "position")?;
    Ok((position, event))
}
