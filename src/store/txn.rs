//! Beginning transactions: each waits for its turn in the pool's fair
//! queue, then runs in its [`Scope`]. A [`Txn`] queries as a sea-orm
//! transaction does and hands its permit on when it ends, by commit,
//! rollback or drop.
//!
//! Callers run their work in one of four scoped transactions, which end
//! it for them: a read ([`Store::read_in`]), an audited write
//! ([`Store::write_in`]), an audited conditional write that writes nothing
//! when the rows were not as read ([`Store::write_if_changed`]), and a
//! write that announces nothing ([`Store::write_unannounced`]). Each of
//! them is a span and a measured duration (`store/traced.rs`). Only a
//! transaction that outlives the call (a job lock, an import) is begun by
//! hand, untraced.

use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};

use crate::error::{Error, Result};
use crate::store::audit::AuditRecord;
use crate::store::fair_queue::Permit;
use crate::store::scope::Scope;
use crate::store::traced::{self, Mode};
use crate::store::{Store, postgres_statement};

/// An open transaction holding one of the pool's permits.
pub struct Txn {
    /// The transaction.
    txn: DatabaseTransaction,
    /// Dropped after the transaction ended, so the next caller's
    /// transaction finds the connection back in the pool.
    _permit: Permit,
}

impl std::fmt::Debug for Txn {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Txn")
    }
}

impl Txn {
    pub(crate) fn new(txn: DatabaseTransaction, permit: Permit) -> Self {
        Self {
            txn,
            _permit: permit,
        }
    }

    /// Commits.
    pub async fn commit(self) -> std::result::Result<(), DbErr> {
        let Self { txn, _permit } = self;
        txn.commit().await
    }

    /// Rolls back.
    pub async fn rollback(self) -> std::result::Result<(), DbErr> {
        let Self { txn, _permit } = self;
        txn.rollback().await
    }
}

impl std::ops::Deref for Txn {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Txn {
    fn get_database_backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> std::result::Result<ExecResult, DbErr> {
        self.txn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> std::result::Result<ExecResult, DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one_raw(
        &self,
        stmt: Statement,
    ) -> std::result::Result<Option<QueryResult>, DbErr> {
        self.txn.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> std::result::Result<Vec<QueryResult>, DbErr> {
        self.txn.query_all_raw(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.txn.support_returning()
    }
}

impl Store {
    /// Runs `read` in a transaction of `scope`, then ends it.
    pub(crate) async fn read_in<T>(
        &self,
        scope: Scope,
        read: impl AsyncFnOnce(&Txn) -> Result<T>,
    ) -> Result<T> {
        let end = async |txn, _: &T| Self::end_read(txn).await;
        self.run_in(scope, Mode::Read, read, end).await
    }

    /// Runs `write` in a transaction of `scope` and commits it with its
    /// `audit` record; an error rolls everything back.
    pub(crate) async fn write_in<T>(
        &self,
        scope: Scope,
        audit: AuditRecord,
        write: impl AsyncFnOnce(&Txn) -> Result<T>,
    ) -> Result<T> {
        let commit = async |txn, _: &T| self.commit_with_audit(txn, audit).await;
        self.run_in(scope, Mode::Write, write, commit).await
    }

    /// Runs a conditional `write` that answers how many rows it touched:
    /// with none the row was not as read, so nothing is written and the
    /// answer is `false`; otherwise it commits with its `audit` record.
    pub(crate) async fn write_if_changed(
        &self,
        scope: Scope,
        audit: AuditRecord,
        write: impl AsyncFnOnce(&Txn) -> Result<u64>,
    ) -> Result<bool> {
        let end = async |txn: Txn, rows: &u64| match rows {
            0 => txn.rollback().await.map_err(Error::from),
            _ => self.commit_with_audit(txn, audit).await,
        };
        Ok(self.run_in(scope, Mode::Write, write, end).await? > 0)
    }

    /// Runs `write` in a transaction of `scope` and commits it, without an
    /// audit record of its own and without announcing a change on the
    /// change feed: for bookkeeping that no cache holds and no caller
    /// audits (usage events, a key's last use, pruning, rollups), and for
    /// writes that audit each row they turn out to write themselves, with
    /// [`crate::store::insert_audit`]. An error rolls everything back.
    pub(crate) async fn write_unannounced<T>(
        &self,
        scope: Scope,
        write: impl AsyncFnOnce(&Txn) -> Result<T>,
    ) -> Result<T> {
        let commit = async |txn: Txn, _: &T| Ok(txn.commit().await?);
        self.run_in(scope, Mode::Write, write, commit).await
    }

    /// Runs `work` in a transaction of `scope`, then `end` on the
    /// transaction and `work`'s answer, which ends it by commit or
    /// rollback; an error of `work` rolls back as the transaction drops.
    /// The whole of it, from the wait for a connection to the end, is the
    /// transaction's span and its measured duration ([`traced`]).
    async fn run_in<T>(
        &self,
        scope: Scope,
        mode: Mode,
        work: impl AsyncFnOnce(&Txn) -> Result<T>,
        end: impl AsyncFnOnce(Txn, &T) -> Result<()>,
    ) -> Result<T> {
        let started = std::time::Instant::now();
        let span = self.identity.span(mode);
        let run = async {
            let txn = self.begin_in(scope).await?;
            let value = work(&txn).await?;
            end(txn, &value).await?;
            Ok(value)
        };
        let outcome = tracing::Instrument::instrument(run, span.clone()).await;
        traced::record_end(&span, mode, started.elapsed(), outcome.as_ref().err());
        outcome
    }

    /// Begins a transaction in `scope`: on PostgreSQL the row-level
    /// security policies see its tenant (or tenants, or the platform)
    /// through a transaction-local setting.
    pub(crate) async fn begin_in(&self, scope: Scope) -> Result<Txn> {
        let txn = self.begin_queued(scope.turn()).await?;
        self.enter(&txn, scope).await?;
        Ok(txn)
    }

    /// Begins a transaction when `turn`'s turn comes in the pool's fair
    /// queue ([`fair_queue`]); it holds its place until it ends.
    pub(crate) async fn begin_queued(&self, turn: Scope) -> Result<Txn> {
        let permit = tokio::time::timeout(self.acquire_timeout, self.queue.acquire(turn))
            .await
            .map_err(|_| Error::Unavailable {
                message: format!(
                    "no database connection came free within {} ms",
                    self.acquire_timeout.as_millis()
                ),
            })?;
        let txn = if self.backend() == DbBackend::Sqlite {
            // SQLite refuses at once ("database is locked"), without
            // waiting, a deferred transaction that read and then writes
            // while another process (an operator's command beside the
            // server) holds the write lock. Taking the lock at BEGIN makes
            // it wait its turn for the busy timeout instead.
            let immediate = TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            };
            self.db.begin_with_options(immediate).await?
        } else {
            self.db.begin().await?
        };
        Ok(Txn::new(txn, permit))
    }

    /// Moves `txn` to `scope` (on PostgreSQL, sets the transaction-local
    /// setting the row-level security policies read); a transaction that
    /// writes for several tenants enters each in turn.
    pub(crate) async fn enter(&self, txn: &DatabaseTransaction, scope: Scope) -> Result<()> {
        if self.backend() == DbBackend::Postgres {
            let (setting, value) = scope.setting();
            let set = postgres_statement(
                "SELECT set_config($1, $2, true)",
                [setting.into(), value.into()],
            );
            txn.query_one_raw(set).await?;
        }
        Ok(())
    }

    /// Ends a read-only transaction.
    pub(crate) async fn end_read(txn: Txn) -> Result<()> {
        txn.commit().await.map_err(Error::from)
    }
}
