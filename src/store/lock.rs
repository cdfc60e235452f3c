//! Advisory locks, in one table of keys ([`LockKey`]) and one way to take
//! them ([`hold`]). On PostgreSQL every lock is transaction-scoped
//! (`pg_advisory_xact_lock`): it ends with its transaction, or with its
//! connection if the replica dies. SQLite serves a single process through
//! one connection, so its locks are always granted.
//!
//! A [`JobLock`] is a lock held by a transaction of its own, for jobs that
//! must run on one replica at a time.

use sea_orm::{ConnectionTrait, DbBackend, Value};

use crate::common::ids::TenantId;
use crate::error::{Error, Result};
use crate::store::scope::Scope;
use crate::store::txn::Txn;
use crate::store::{Store, postgres_statement};

/// Every advisory lock tenantd takes. No two share a key: the single-key
/// locks are eight ASCII letters, the per-tenant ones a class of their own
/// with a second key taken from the tenant id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKey {
    /// Control-plane migrations ("tenantd").
    Migration,
    /// The provisioning reconciler ("reconcil").
    Reconcile,
    /// The purge job ("purgejob").
    Purge,
    /// Usage aggregation ("usagerol").
    Aggregation,
    /// The NATS JetStream event sink ("natssink").
    EventsNats,
    /// One tenant's provisioning: class "tent", then the id's last 4 bytes.
    Tenant(TenantId),
}

/// The class of the per-tenant locks ("tent" in ASCII).
const TENANT_LOCK_CLASS: i32 = 0x7465_6e74;

/// A lock's keys as PostgreSQL takes them: one 64-bit key, or two 32-bit.
enum Keys {
    One(i64),
    Two(i32, i32),
}

impl LockKey {
    fn keys(self) -> Keys {
        match self {
            Self::Migration => Keys::One(0x0074_656e_616e_7464),
            Self::Reconcile => Keys::One(0x7265_636f_6e63_696c),
            Self::Purge => Keys::One(0x7075_7267_656a_6f62),
            Self::Aggregation => Keys::One(0x7573_6167_6572_6f6c),
            Self::EventsNats => Keys::One(0x6e61_7473_7369_6e6b),
            Self::Tenant(tenant_id) => {
                let bytes = tenant_id.as_uuid().into_bytes();
                let key = i32::from_be_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
                Keys::Two(TENANT_LOCK_CLASS, key)
            }
        }
    }

    /// The single 64-bit key, for the locks that have one.
    pub fn single(self) -> Option<i64> {
        match self.keys() {
            Keys::One(key) => Some(key),
            Keys::Two(..) => None,
        }
    }

    /// The lock function's arguments and their placeholders.
    fn arguments(self) -> (&'static str, Vec<Value>) {
        match self.keys() {
            Keys::One(key) => ("$1", vec![key.into()]),
            Keys::Two(class, key) => ("$1, $2", vec![class.into(), key.into()]),
        }
    }
}

/// Takes `key` for the rest of `txn`, waiting for its holder when `wait`;
/// without, answers `false` at once when another transaction holds it.
pub async fn hold(txn: &impl ConnectionTrait, key: LockKey, wait: bool) -> Result<bool> {
    if txn.get_database_backend() != DbBackend::Postgres {
        return Ok(true);
    }
    let (placeholders, values) = key.arguments();
    let sql = if wait {
        format!("SELECT true AS locked FROM (SELECT pg_advisory_xact_lock({placeholders})) AS held")
    } else {
        format!("SELECT pg_try_advisory_xact_lock({placeholders}) AS locked")
    };
    let row = txn.query_one_raw(postgres_statement(sql, values)).await?;
    Ok(row
        .map(|row| row.try_get::<bool>("", "locked"))
        .transpose()?
        .unwrap_or(false))
}

/// A held job lock.
pub struct JobLock {
    /// The transaction holding it; `None` on SQLite.
    txn: Option<Txn>,
}

impl JobLock {
    /// Releases the lock.
    pub async fn release(self) -> Result<()> {
        match self.txn {
            Some(txn) => txn.rollback().await.map_err(Error::from),
            None => Ok(()),
        }
    }
}

impl Store {
    /// Takes the job lock `key`, or `None` when another session holds it.
    pub async fn try_job_lock(&self, key: LockKey) -> Result<Option<JobLock>> {
        if self.backend() != DbBackend::Postgres {
            return Ok(Some(JobLock { txn: None }));
        }
        let txn = self.begin_queued(Scope::Platform).await?;
        if !hold(&*txn, key, false).await? {
            txn.rollback().await?;
            return Ok(None);
        }
        Ok(Some(JobLock { txn: Some(txn) }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_two_locks_share_a_key() {
        let tenant = TenantId::from_uuid(uuid::Uuid::from_u128(0x7465_6e74));
        let keys: Vec<(&str, Vec<Value>)> = [
            LockKey::Migration,
            LockKey::Reconcile,
            LockKey::Purge,
            LockKey::Aggregation,
            LockKey::EventsNats,
            LockKey::Tenant(tenant),
        ]
        .into_iter()
        .map(LockKey::arguments)
        .collect();
        for (at, key) in keys.iter().enumerate() {
            assert!(!keys[at + 1..].contains(key), "{key:?} is taken twice");
        }
        assert_eq!(LockKey::Tenant(tenant).single(), None);
    }
}
