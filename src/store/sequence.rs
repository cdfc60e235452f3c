//! The counters of the ordered logs: the configuration change log and the
//! event outbox. One row per log in `config_revision` (m0014, m0021), taken
//! by each writer inside its transaction.
//!
//! Incrementing the row locks it until the transaction ends, so writers of
//! one log commit in the order of the numbers they took, and a rolled-back
//! writer gives its number back: a reader that has seen `n` committed never
//! later finds a smaller number appear, and the numbers have no gaps.

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend};

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::scope::Scope;

/// The counter table.
const TABLE: &str = "config_revision";

/// An ordered log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Log {
    /// The configuration change log that WatchConfig streams (revisions).
    Config,
    /// The lifecycle event outbox (sequences).
    Events,
}

impl Log {
    /// Its row in `config_revision`.
    fn row(self) -> i32 {
        match self {
            Log::Config => 1,
            Log::Events => 2,
        }
    }

    /// Its table, the column of its numbers and the column of its times.
    fn columns(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Log::Config => ("config_changes", "revision", "create_time"),
            Log::Events => ("events", "sequence", "time"),
        }
    }
}

/// Where a log stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogBounds {
    /// The newest number taken and committed.
    pub current: i64,
    /// The newest number the log no longer holds (0 before any pruning).
    pub pruned_through: i64,
}

/// Takes the next number of `log` inside `txn`.
pub(crate) async fn take_next(
    txn: &DatabaseTransaction,
    backend: DbBackend,
    log: Log,
) -> Result<i64> {
    let update = Query::update()
        .table(Alias::new(TABLE))
        .value(
            Alias::new("revision"),
            Expr::col(Alias::new("revision")).add(1),
        )
        .and_where(Expr::col(Alias::new("id")).eq(log.row()))
        .returning_col(Alias::new("revision"))
        .to_owned();
    let row = txn
        .query_one_raw(backend.build(&update))
        .await?
        .ok_or_else(|| missing(log))?;
    Ok(row.try_get("", "revision")?)
}

/// Reads where `log` stands inside `txn`.
pub(crate) async fn bounds_in(
    txn: &DatabaseTransaction,
    backend: DbBackend,
    log: Log,
) -> Result<LogBounds> {
    let select = Query::select()
        .columns([Alias::new("revision"), Alias::new("pruned_through")])
        .from(Alias::new(TABLE))
        .and_where(Expr::col(Alias::new("id")).eq(log.row()))
        .to_owned();
    let row = txn
        .query_one_raw(backend.build(&select))
        .await?
        .ok_or_else(|| missing(log))?;
    Ok(LogBounds {
        current: row.try_get("", "revision")?,
        pruned_through: row.try_get("", "pruned_through")?,
    })
}

/// Records inside `txn` that `log` no longer holds what is at or below
/// `through`.
async fn mark_pruned(
    txn: &DatabaseTransaction,
    backend: DbBackend,
    log: Log,
    through: i64,
) -> Result<()> {
    let mark = Query::update()
        .table(Alias::new(TABLE))
        .value(Alias::new("pruned_through"), through)
        .and_where(Expr::col(Alias::new("id")).eq(log.row()))
        .and_where(Expr::col(Alias::new("pruned_through")).lt(through))
        .to_owned();
    txn.execute_raw(backend.build(&mark)).await?;
    Ok(())
}

impl Store {
    /// Forgets the entries of `log` made before `cutoff`, and records the
    /// newest number it no longer holds; answers how many were deleted.
    pub(crate) async fn prune_log(&self, log: Log, cutoff: DateTime<Utc>) -> Result<u64> {
        let backend = self.backend();
        let (table, number, time) = log.columns();
        let newest_old = Query::select()
            .expr_as(Expr::col(Alias::new(number)).max(), Alias::new(number))
            .from(Alias::new(table))
            .and_where(Expr::col(Alias::new(time)).lt(cutoff))
            .to_owned();
        self.write_unannounced(Scope::Platform, async |txn| {
            let through = txn
                .query_one_raw(backend.build(&newest_old))
                .await?
                .map(|row| row.try_get::<Option<i64>>("", number))
                .transpose()?
                .flatten();
            let Some(through) = through else {
                return Ok(0);
            };
            let delete = Query::delete()
                .from_table(Alias::new(table))
                .and_where(Expr::col(Alias::new(number)).lte(through))
                .to_owned();
            let deleted = txn.execute_raw(backend.build(&delete)).await?;
            mark_pruned(txn, backend, log, through).await?;
            Ok(deleted.rows_affected())
        })
        .await
    }
}

fn missing(log: Log) -> Error {
    Error::internal(format!("{TABLE} has no row {}", log.row()))
}
