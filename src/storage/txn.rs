//! A transaction with its turn in the pool's fair queue: it queries as a
//! sea-orm transaction does, and hands its permit on when it ends, by
//! commit, rollback or drop.

use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult, Statement,
};

use super::fair_queue::Permit;

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
    pub(super) fn new(txn: DatabaseTransaction, permit: Permit) -> Self {
        Self {
            txn,
            _permit: permit,
        }
    }

    /// Commits.
    pub async fn commit(self) -> Result<(), DbErr> {
        let Self { txn, _permit } = self;
        txn.commit().await
    }

    /// Rolls back.
    pub async fn rollback(self) -> Result<(), DbErr> {
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

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.txn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.txn.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.txn.query_all_raw(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.txn.support_returning()
    }
}
