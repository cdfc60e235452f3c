//! Storage: the only code that speaks SQL. sea-orm over SQLite (the embedded
//! default) or PostgreSQL, chosen by the database URL.
//!
//! Invariants kept here:
//! - every mutation and its audit record commit in one transaction, which
//!   also announces the change on the change feed;
//! - every transaction runs in a [`Scope`]: on PostgreSQL it begins with
//!   `SET LOCAL tenantd.tenant_id` (or `tenantd.platform`), which the
//!   row-level security policies read, so a query that forgot its tenant
//!   filter still sees one tenant's rows only;
//! - database errors are classified once, in [`classify`], which `?` calls
//!   through `From<DbErr> for Error`: unique
//!   violations become ALREADY_EXISTS with the reason of the index they hit,
//!   lost connections UNAVAILABLE, the rest INTERNAL;
//! - queries stay within portable SQL (no time arithmetic in SQL, since
//!   SQLite stores times as text), with the few backend-specific expressions
//!   chosen by [`Store::backend`].

pub mod audit;
pub mod changefeed;
pub mod db_error;
pub mod entities;
mod fair_queue;
pub mod idempotency;
pub mod lock;
pub mod outbox;
pub mod read;
pub mod revision;
pub mod schema;
pub mod scope;
pub mod secrets;
pub mod sequence;
pub mod stored;
mod traced;
pub mod txn;
pub mod write;

pub use crate::store::lock::{JobLock, LockKey};
pub use crate::store::txn::Txn;

/// The histogram of database transaction times, by `mode` (read, write).
pub const DB_TRANSACTION_DURATION: &str = "tenantd_db_transaction_duration_seconds";

use std::time::Duration;

use sea_orm::{
    ActiveModelTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection,
    DatabaseTransaction, DbBackend, DbErr, SqlErr, Statement, TransactionTrait,
};
use tenantd_migration::{Migrator, MigratorTrait};

use crate::common::ids::new_v7_at;
use crate::common::paging::PageTokens;
use crate::error::{Error, Result};
use crate::store::audit::AuditRecord;
use crate::store::changefeed::{CHANNEL, Change, ChangeFeed, Subscription};
use crate::store::fair_queue::FairQueue;
use crate::store::schema::SchemaState;
use crate::store::traced::DbIdentity;

/// A handle on the control-plane database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    /// The connection pool.
    db: DatabaseConnection,
    /// Where committed changes are announced in this process.
    feed: ChangeFeed,
    /// Signs and checks page tokens: a per-process key until
    /// [`Self::with_page_token_key`] sets the shared one.
    page_tokens: PageTokens,
    /// Who begins the next transaction when calls wait for a connection.
    queue: FairQueue,
    /// How long a call waits for its turn.
    acquire_timeout: Duration,
    /// The database, as transactions' spans name it.
    identity: DbIdentity,
}

/// Pool settings taken from the configuration.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Most connections to PostgreSQL. SQLite always uses one, so writers
    /// queue in the pool instead of failing with SQLITE_BUSY.
    pub max_connections: u32,
    /// How long a call waits for a free connection.
    pub acquire_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

impl Store {
    /// Connects to `url` (`sqlite://…` or `postgres://…`).
    pub async fn connect(url: &str, pool: &PoolOptions) -> Result<Self> {
        let mut options = ConnectOptions::new(url.to_owned());
        let is_sqlite = url.starts_with("sqlite:");
        let connections = if is_sqlite { 1 } else { pool.max_connections };
        options
            .max_connections(connections)
            .min_connections(if is_sqlite { 1 } else { 0 })
            .acquire_timeout(pool.acquire_timeout)
            .sqlx_logging(false);
        let db = Database::connect(options).await?;
        let identity = DbIdentity::of(url, db.get_database_backend());
        Ok(Self {
            db,
            feed: ChangeFeed::new(),
            page_tokens: PageTokens::random()?,
            // On PostgreSQL the change feed's listener keeps one connection.
            queue: FairQueue::new(
                usize::try_from(if is_sqlite {
                    1
                } else {
                    connections.saturating_sub(1)
                })
                .unwrap_or(usize::MAX),
            ),
            acquire_timeout: pool.acquire_timeout,
            identity,
        })
    }

    /// Changes committed from now on, by this replica or (on PostgreSQL,
    /// once [`Self::listen_for_changes`] ran) by any other.
    pub fn changes(&self) -> Subscription {
        self.feed.subscribe()
    }

    /// Runs `hook` on every change from now on (this replica's as its
    /// commit returns, others' as they are heard), before any subscriber
    /// of [`Self::changes`] sees it.
    pub fn on_change(&self, hook: impl Fn(Change) + Send + Sync + 'static) {
        self.feed.on_change(hook);
    }

    /// On PostgreSQL, starts forwarding every replica's change
    /// notifications to [`Self::changes`]; SQLite needs nothing, as its
    /// changes are announced in-process.
    pub async fn listen_for_changes(&self) -> Result<()> {
        if self.backend() == DbBackend::Postgres {
            let pool = self.db.get_postgres_connection_pool().clone();
            self.feed.listen_postgres(pool).await?;
        }
        Ok(())
    }

    /// Applies pending control-plane migrations. On PostgreSQL they run in
    /// one transaction holding an advisory lock, so replicas starting
    /// together migrate one after the other (the later ones find nothing
    /// pending) and a failed migration leaves nothing half-applied. A
    /// database a newer release migrated is left as it is
    /// ([`schema`] says why that serves).
    pub async fn migrate(&self) -> Result<()> {
        if self.backend() != DbBackend::Postgres {
            return migrate_on(&self.db).await;
        }
        let txn = self.db.begin().await?;
        lock::hold(&txn, LockKey::Migration, true).await?;
        migrate_on(&txn).await?;
        txn.commit().await.map_err(Error::from)
    }

    /// Fails unless every control-plane migration has been applied: a
    /// server started with `--no-migrate` must not serve an older schema.
    /// A newer one serves. Reads only, so a role without DDL rights can
    /// run it.
    pub async fn ensure_migrated(&self) -> Result<()> {
        let state = SchemaState::read(&self.db).await?;
        state.refuse_out_of_order()?;
        if state.pending.is_empty() {
            state.note_newer();
            return Ok(());
        }
        Err(Error::failed_precondition(
            "MIGRATIONS_PENDING",
            "DATABASE_SCHEMA",
            "control-plane database",
            format!(
                "the database lacks the migrations {}; run `tenantd migrate` first, or serve without --no-migrate",
                state.pending.join(", ")
            ),
        ))
    }

    /// Which SQL dialect the store speaks.
    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// Checks the database answers.
    pub async fn ping(&self) -> Result<()> {
        self.db.ping().await.map_err(Error::from)
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(self) -> Result<()> {
        self.db.close().await.map_err(Error::from)
    }

    /// Writes `record`, announces the change and commits. PostgreSQL
    /// delivers the notification at commit to every other replica; this
    /// process hears of it in-process once the commit returned, and also
    /// when it failed, as a commit whose answer was lost may have landed.
    pub(crate) async fn commit_with_audit(&self, txn: Txn, record: AuditRecord) -> Result<()> {
        // A change without a tenant is platform-wide (a plan, a metric, a
        // configuration layer): caches holding any tenant's view of it are
        // all suspect, and such changes are rare.
        let changed = record.tenant_id.map_or(Change::Everything, Change::Tenant);
        insert_audit(&txn, record).await?;
        if self.backend() == DbBackend::Postgres {
            let notification = self.feed.notification(changed);
            let notify = postgres_statement(
                "SELECT pg_notify($1, $2)",
                [CHANNEL.into(), notification.into()],
            );
            txn.query_one_raw(notify).await?;
        }
        let committed = txn.commit().await.map_err(Error::from);
        // This replica's own cache must not wait for the notification's
        // round trip: the caller's next call may come first.
        self.feed.publish(changed);
        committed
    }
}

/// The PostgreSQL statement `sql` with its placeholders (`$1`, `$2` …)
/// bound to `values`, for the queries only PostgreSQL runs.
pub fn postgres_statement(
    sql: impl Into<String>,
    values: impl IntoIterator<Item = sea_orm::Value>,
) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

/// Writes `record` inside `txn`, stamped with the clock to the millisecond:
/// the precision of its UUIDv7 id, so `create_time` filters, which compare
/// ids, are exact.
///
/// The events the record makes ([`outbox`]) are written with it, in the
/// same transaction.
pub(crate) async fn insert_audit(txn: &DatabaseTransaction, record: AuditRecord) -> Result<()> {
    let clock = chrono::Utc::now();
    let now = chrono::DateTime::from_timestamp_millis(clock.timestamp_millis()).unwrap_or(clock);
    outbox::write_events(txn, txn.get_database_backend(), &record, now).await?;
    entities::audit_event::ActiveModel {
        id: sea_orm::Set(new_v7_at(now)),
        tenant_id: sea_orm::Set(record.tenant_id.map(|id| id.as_uuid())),
        actor: sea_orm::Set(record.actor),
        action: sea_orm::Set(record.action.to_owned()),
        resource: sea_orm::Set(record.resource),
        request_id: sea_orm::Set(record.request_id),
        before: sea_orm::Set(record.before),
        after: sea_orm::Set(record.after),
        create_time: sea_orm::Set(now),
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// Unique indexes and what a violation of each means to a caller: the
/// PostgreSQL constraint names, the SQLite `table.column` text, the reason.
const UNIQUE_INDEXES: &[(&[&str], &str, &str)] = &[
    (
        &["ux_tenants_slug", "tenants.slug"],
        "SLUG_ALREADY_EXISTS",
        "a tenant with this slug already exists",
    ),
    (
        &["ux_tenants_external_id", "tenants.external_id"],
        "EXTERNAL_ID_ALREADY_EXISTS",
        "a tenant with this external id already exists",
    ),
    (
        &["tenants_pkey", "tenants.id"],
        "TENANT_ALREADY_EXISTS",
        "a tenant with this id already exists",
    ),
    // Before the hostname index: SQLite names both columns of this one.
    (
        &[
            "ux_tenant_domains_tenant_hostname",
            "tenant_domains.tenant_id, tenant_domains.hostname",
        ],
        "DOMAIN_ALREADY_EXISTS",
        "the tenant already has this hostname",
    ),
    (
        &[
            "ux_tenant_domains_verified_hostname",
            "ux_tenant_domains_hostname",
            "tenant_domains.hostname",
        ],
        "DOMAIN_ALREADY_EXISTS",
        "this hostname is verified by a tenant",
    ),
    (
        &["ux_api_keys_prefix", "api_keys.prefix"],
        "API_KEY_PREFIX_COLLISION",
        "a key with this prefix exists; create the key again",
    ),
    (
        &["plans_pkey", "plans.id"],
        "PLAN_ALREADY_EXISTS",
        "a plan with this id already exists",
    ),
    (
        &["flags_pkey", "flags.key"],
        "FLAG_ALREADY_EXISTS",
        "a flag with this key already exists",
    ),
    (
        &["usage_metrics_pkey", "usage_metrics.key"],
        "METRIC_ALREADY_EXISTS",
        "a metric with this key already exists",
    ),
    (
        &[
            "ux_idempotency_keys",
            "idempotency_keys_pkey",
            "idempotency_keys.scope",
        ],
        REQUEST_ID_IN_USE,
        "this request id is being used by a concurrent request",
    ),
];

/// The reason of a conflict on a request id, which callers retry by reading
/// the first request's result.
pub const REQUEST_ID_IN_USE: &str = "REQUEST_ID_IN_USE";

/// Every query's error becomes the crate's through `?`, by [`classify`].
impl From<DbErr> for Error {
    fn from(error: DbErr) -> Self {
        classify(error)
    }
}

/// Maps a database error to the crate's error, once for every query.
pub fn classify(error: DbErr) -> Error {
    if let Some(SqlErr::UniqueConstraintViolation(message)) = error.sql_err() {
        for (markers, reason, description) in UNIQUE_INDEXES {
            if markers.iter().any(|marker| message.contains(marker)) {
                return Error::AlreadyExists {
                    reason,
                    message: (*description).to_owned(),
                };
            }
        }
        return Error::AlreadyExists {
            reason: "ALREADY_EXISTS",
            message: "a resource with the same unique key already exists".to_owned(),
        };
    }
    if db_error::is_unstorable_text(&error) {
        return Error::invalid_field(
            "request",
            "holds text the database cannot store (a NUL character)",
        );
    }
    if db_error::is_unreachable(&error) {
        tracing::warn!(%error, "the database is unreachable");
        return Error::Unavailable {
            message: "the database is unavailable; retry later".to_owned(),
        };
    }
    Error::internal(error)
}

/// Applies this build's pending migrations on `db`, unless a newer release
/// already migrated it.
async fn migrate_on<'c, C>(db: &'c C) -> Result<()>
where
    &'c C: tenantd_migration::IntoSchemaManagerConnection<'c>,
{
    let state = SchemaState::read(db).await?;
    state.refuse_out_of_order()?;
    if !state.newer.is_empty() {
        state.note_newer();
        return Ok(());
    }
    Migrator::up(db, None).await.map_err(Error::from)
}
