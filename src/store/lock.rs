//! Advisory locks for jobs that must run on one replica at a time. On
//! PostgreSQL a lock is a transaction holding `pg_try_advisory_xact_lock`:
//! it ends with [`JobLock::release`], or with its connection if the replica
//! dies. SQLite serves a single process, so its lock is always granted.

use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::error::Result;
use crate::store::scope::Scope;
use crate::store::txn::Txn;
use crate::store::{Store, classify};

/// A held job lock.
pub struct JobLock {
    /// The transaction holding it; `None` on SQLite.
    txn: Option<Txn>,
}

impl JobLock {
    /// Releases the lock.
    pub async fn release(self) -> Result<()> {
        match self.txn {
            Some(txn) => txn.rollback().await.map_err(classify),
            None => Ok(()),
        }
    }
}

impl Store {
    /// Takes the job lock `key`, or `None` when another session holds it.
    pub async fn try_job_lock(&self, key: i64) -> Result<Option<JobLock>> {
        if self.backend() != DbBackend::Postgres {
            return Ok(Some(JobLock { txn: None }));
        }
        let txn = self.begin_queued(Scope::Platform).await?;
        let locked = txn
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_try_advisory_xact_lock($1) AS locked",
                [key.into()],
            ))
            .await
            .map_err(classify)?
            .map(|row| row.try_get::<bool>("", "locked"))
            .transpose()
            .map_err(classify)?
            .unwrap_or(false);
        if !locked {
            txn.rollback().await.map_err(classify)?;
            return Ok(None);
        }
        Ok(Some(JobLock { txn: Some(txn) }))
    }
}
