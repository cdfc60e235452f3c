//! Provisioning of SCHEMA tenants on PostgreSQL: each gets a schema
//! `tenant_<32 hex>` and a NOLOGIN role of the same name that owns the
//! schema and everything in it, has no rights outside it, and to which
//! `PUBLIC` is given nothing. The tenant template ([`template`]) is applied
//! inside the schema, one transaction per file, recorded in the schema's own
//! `tenantd_template_versions` table.
//!
//! Invariants kept here:
//! - names come only from a validated [`TenantId`] ([`names`]), so they are
//!   written into DDL unquoted and cannot carry user text;
//! - every step is idempotent (a role or schema that exists is kept, files
//!   already recorded are skipped), so a provisioning cut short by a crash is
//!   finished by running it again;
//! - one provisioner at a time per tenant: [`Provisioner::lock`] takes a
//!   transaction-scoped advisory lock, released when its holder ends or its
//!   connection dies, so a crashed replica never blocks the reconciler.
//!
//! DDL runs on the owner's connection (`--migration-database-url`): it needs
//! `CREATEROLE` and `CREATE` on the database, never a superuser. The server's
//! own login (`tenantd_app`) keeps neither right.

pub mod archive;
mod ddl;
pub mod names;
pub mod template;

use std::sync::Arc;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    Statement, TransactionTrait,
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::common::ids::TenantId;
use crate::error::{Error, Result};
use crate::store::lock::{self, LockKey};
use crate::tenancy::progress::{ProvisioningProgress, STEPS_BEFORE_TEMPLATE};
pub use crate::tenancy::provisioning::archive::SchemaImport;
pub use crate::tenancy::provisioning::names::TenantSchema;
pub use crate::tenancy::provisioning::template::{Template, TemplateFile};

/// A point between two provisioning steps, where a fault can be injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The role exists.
    Role,
    /// The schema exists, with its version table.
    Schema,
    /// Template file `n` is applied.
    TemplateFile(i32),
}

/// Why provisioning did not finish.
#[derive(Debug)]
pub enum Stopped {
    /// It was cut short (a lost connection, an injected fault): nothing was
    /// rolled back and running it again finishes it.
    Interrupted(Error),
    /// It cannot succeed as things are (a template file fails, rights are
    /// missing): `reason` says why, for the tenant's `state_reason`.
    Failed {
        /// What an operator reads on the tenant.
        reason: String,
        /// The underlying error, for the log.
        error: Error,
    },
}

/// Applies tenant schemas and templates; cheap to clone.
#[derive(Clone)]
pub struct Provisioner {
    /// The owner's pool: DDL rights, and nothing else runs on it.
    db: DatabaseConnection,
    /// The template new and migrated schemas get.
    template: Arc<Template>,
    /// Test-only: stop after this step as a killed process would.
    fault: Option<Step>,
    /// One permit per tenant lock held: a holder needs a second pooled
    /// connection for its DDL, so at most half the pool may hold locks, or
    /// the holders would wait on each other for a connection.
    holders: Arc<Semaphore>,
}

impl std::fmt::Debug for Provisioner {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Provisioner")
            .field("template_version", &self.template.latest_version())
            .field("fault", &self.fault)
            .finish()
    }
}

/// A held per-tenant lock; [`TenantLock::release`] ends it (dropping it
/// does too, when its connection returns to the pool).
pub struct TenantLock {
    /// The transaction holding the advisory lock.
    txn: DatabaseTransaction,
    /// This holder's share of the pool.
    _permit: OwnedSemaphorePermit,
}

impl TenantLock {
    /// Releases the lock.
    pub async fn release(self) -> Result<()> {
        self.txn.rollback().await.map_err(Error::from)
    }
}

impl Provisioner {
    /// Connects to the owner's `url` (PostgreSQL only) with `template`,
    /// for at most `concurrency` tenants provisioned or migrated at once
    /// (two connections each). `fault` is for tests: provisioning then
    /// stops after that step, as if the process were killed there.
    pub async fn connect(
        url: &str,
        template: Template,
        concurrency: u32,
        fault: Option<Step>,
    ) -> Result<Self> {
        let concurrency = concurrency.clamp(1, 256);
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .max_connections(2 * concurrency)
            .min_connections(0)
            .sqlx_logging(false);
        let db = Database::connect(options).await?;
        if db.get_database_backend() != DbBackend::Postgres {
            return Err(Error::internal("tenant schemas need PostgreSQL"));
        }
        Ok(Self {
            db,
            template: Arc::new(template),
            fault,
            holders: Arc::new(Semaphore::new(concurrency as usize)),
        })
    }

    /// The rights provisioning needs that its role lacks: `CREATEROLE` and
    /// `CREATE` on the database (a superuser has both). Empty when all is
    /// well.
    pub async fn missing_rights(&self) -> Result<Vec<&'static str>> {
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT (rolcreaterole OR rolsuper) AS create_role, \
                 has_database_privilege(current_database(), 'CREATE') AS create_schema \
                 FROM pg_roles WHERE rolname = current_user",
            ))
            .await?;
        let Some(row) = row else {
            return Ok(vec!["CREATEROLE", "CREATE on the database"]);
        };
        let mut missing = Vec::new();
        if !row.try_get::<bool>("", "create_role")? {
            missing.push("CREATEROLE");
        }
        if !row.try_get::<bool>("", "create_schema")? {
            missing.push("CREATE on the database");
        }
        Ok(missing)
    }

    /// The template in use.
    pub fn template(&self) -> &Template {
        &self.template
    }

    /// Takes the tenant's provisioning lock, waiting for another session
    /// to release it when `wait`; without, `None` when another holds it.
    pub async fn lock(&self, tenant_id: TenantId, wait: bool) -> Result<Option<TenantLock>> {
        let permit = Arc::clone(&self.holders)
            .acquire_owned()
            .await
            .map_err(Error::internal)?;
        let txn = self.db.begin().await?;
        if !lock::hold(&txn, LockKey::Tenant(tenant_id), wait).await? {
            txn.rollback().await?;
            return Ok(None);
        }
        Ok(Some(TenantLock {
            txn,
            _permit: permit,
        }))
    }

    /// How many steps a provisioning has: the role, the schema and one per
    /// template file.
    pub fn total_steps(&self) -> i32 {
        STEPS_BEFORE_TEMPLATE.saturating_add(self.template.latest_version())
    }

    /// Makes the tenant's role and schema and applies every template file
    /// it lacks; answers the schema's template version. After each step
    /// has committed, `report` is told of it; its error interrupts the
    /// provisioning (to be finished by running it again). The caller holds
    /// the tenant's lock.
    pub async fn provision(
        &self,
        tenant_id: TenantId,
        report: &impl ReportStep,
    ) -> std::result::Result<i32, Stopped> {
        let schema = TenantSchema::of(tenant_id);
        let total = self.total_steps();
        ddl::create_role(&self.db, schema)
            .await
            .map_err(|error| stopped("creating the tenant role failed", error))?;
        reported(report.step_done(ProvisioningProgress::role(total)).await)?;
        self.fault_after(Step::Role)?;
        ddl::create_schema(&self.db, schema)
            .await
            .map_err(|error| stopped("creating the tenant schema failed", error))?;
        reported(report.step_done(ProvisioningProgress::schema(total)).await)?;
        self.fault_after(Step::Schema)?;
        self.apply_reporting(tenant_id, report).await
    }

    /// Applies the template files the tenant's schema lacks, in order, one
    /// transaction each; answers the version it stands at afterwards. The
    /// same function serves provisioning and the fleet rollout.
    pub async fn apply_pending(&self, tenant_id: TenantId) -> std::result::Result<i32, Stopped> {
        self.apply_reporting(tenant_id, &Unreported).await
    }

    /// [`Self::apply_pending`], telling `report` of each file applied.
    async fn apply_reporting(
        &self,
        tenant_id: TenantId,
        report: &impl ReportStep,
    ) -> std::result::Result<i32, Stopped> {
        let schema = TenantSchema::of(tenant_id);
        let total = self.total_steps();
        let mut version = self
            .applied_version(tenant_id)
            .await
            .map_err(|error| stopped("reading the template version failed", error))?;
        for file in self.template.pending_after(version) {
            ddl::apply_file(&self.db, schema, file)
                .await
                .map_err(|error| stopped(&format!("template file {} failed", file.name), error))?;
            version = file.version;
            reported(
                report
                    .step_done(ProvisioningProgress::template_file(
                        version, &file.name, total,
                    ))
                    .await,
            )?;
            self.fault_after(Step::TemplateFile(version))?;
        }
        Ok(version)
    }

    /// The newest template file recorded in the tenant's schema.
    pub async fn applied_version(&self, tenant_id: TenantId) -> Result<i32> {
        ddl::applied_version(&self.db, TenantSchema::of(tenant_id)).await
    }

    /// Drops the tenant's schema (with everything in it) and its role;
    /// nothing is left whether or not they existed.
    pub async fn teardown(&self, tenant_id: TenantId) -> Result<()> {
        ddl::drop_schema_and_role(&self.db, TenantSchema::of(tenant_id)).await
    }

    /// Closes the pool.
    pub async fn close(self) -> Result<()> {
        self.db.close().await.map_err(Error::from)
    }

    fn fault_after(&self, step: Step) -> std::result::Result<(), Stopped> {
        if self.fault == Some(step) {
            return Err(Stopped::Interrupted(Error::Unavailable {
                message: format!("provisioning was interrupted after {step:?} (injected fault)"),
            }));
        }
        Ok(())
    }
}

/// Is told of each provisioning step after it has committed.
pub trait ReportStep: Sync {
    /// Records that `done` has finished.
    fn step_done(
        &self,
        done: ProvisioningProgress,
    ) -> impl std::future::Future<Output = Result<()>> + Send;
}

/// A fleet rollout's files are not provisioning steps: nobody is told.
struct Unreported;

impl ReportStep for Unreported {
    async fn step_done(&self, _done: ProvisioningProgress) -> Result<()> {
        Ok(())
    }
}

/// A step whose report could not be written is an interruption: the step
/// itself has committed, and running the provisioning again reports it.
fn reported(outcome: Result<()>) -> std::result::Result<(), Stopped> {
    outcome.map_err(Stopped::Interrupted)
}

/// The second key of a tenant's lock: the last four bytes of its id, the
/// random part of a UUIDv7. Two tenants sharing it only wait for each other.
/// Classifies an error of a step: a lost database is an interruption (to be
/// finished later), anything else a failure whose reason starts with
/// `context`.
fn stopped(context: &str, error: Error) -> Stopped {
    match error {
        Error::Unavailable { .. } => Stopped::Interrupted(error),
        error => Stopped::Failed {
            reason: format!("{context}: {}", ddl::database_message(&error)),
            error,
        },
    }
}
