//! The DDL of tenant schemas and roles. Every statement names the schema
//! through [`TenantSchema`], the only source of such names, so the text
//! formatted into SQL is always `tenant_` and 32 hex digits. Each function
//! takes a pool or a transaction (where its own transaction becomes a
//! savepoint), so an import runs them all inside one transaction.

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement, TransactionTrait};

use crate::error::{Error, Result};
use crate::tenancy::provisioning::names::TenantSchema;
use crate::tenancy::provisioning::template::TemplateFile;

/// The version table inside every tenant schema.
const VERSION_TABLE: &str = "tenantd_template_versions";

/// A pool, or a transaction whose own transactions are savepoints.
pub(crate) trait Db: TransactionTrait<Transaction = DatabaseTransaction> {}

impl<T: TransactionTrait<Transaction = DatabaseTransaction>> Db for T {}

async fn run_all(txn: &DatabaseTransaction, statements: &[String]) -> Result<()> {
    for statement in statements {
        txn.execute_unprepared(statement).await?;
    }
    Ok(())
}

/// Runs `work` in a transaction of `db` and commits it; an error rolls
/// it back.
async fn in_transaction(
    db: &impl Db,
    work: impl AsyncFnOnce(&DatabaseTransaction) -> Result<()>,
) -> Result<()> {
    let txn = db.begin().await?;
    work(&txn).await?;
    txn.commit().await.map_err(Error::from)
}

/// Runs `statements` in one transaction of `db`.
async fn run_in_transaction(db: &impl Db, statements: &[String]) -> Result<()> {
    in_transaction(db, async |txn| run_all(txn, statements).await).await
}

/// Creates the NOLOGIN role unless it exists, and makes the session's user
/// a member: PostgreSQL lets only members create objects owned by a role or
/// act as it, and a `CREATEROLE` user is not one by itself. The role's
/// comment names the database, so roles (which are cluster-wide) can be
/// traced back to the tenantd that made them.
pub(crate) async fn create_role(db: &impl Db, schema: TenantSchema) -> Result<()> {
    let role = schema.name();
    in_transaction(db, async |txn| {
        let database = txn
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT current_database() AS name",
            ))
            .await?
            .map(|row| row.try_get::<String>("", "name"))
            .transpose()?
            .unwrap_or_default();
        let comment = format!(
            "tenantd tenant {} of database {database}",
            schema.tenant_id()
        )
        .replace('\'', "''");
        run_all(
            txn,
            &[
                format!(
                    "DO $$ BEGIN CREATE ROLE {role} NOLOGIN NOINHERIT; \
                     EXCEPTION WHEN duplicate_object THEN NULL; END $$"
                ),
                format!("GRANT {role} TO CURRENT_USER"),
                format!("COMMENT ON ROLE {role} IS '{comment}'"),
            ],
        )
        .await
    })
    .await
}

/// Creates the schema owned by the role unless it exists, gives `PUBLIC`
/// nothing on it nor on what the role will create, and the version table,
/// owned by the role like everything else in the schema.
pub(crate) async fn create_schema(db: &impl Db, schema: TenantSchema) -> Result<()> {
    let name = schema.name();
    run_in_transaction(
        db,
        &[
            format!("CREATE SCHEMA IF NOT EXISTS {name} AUTHORIZATION {name}"),
            format!("REVOKE ALL ON SCHEMA {name} FROM PUBLIC"),
            // Functions and types are open to PUBLIC by default.
            format!(
                "ALTER DEFAULT PRIVILEGES FOR ROLE {name} REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC"
            ),
            format!("ALTER DEFAULT PRIVILEGES FOR ROLE {name} REVOKE USAGE ON TYPES FROM PUBLIC"),
            format!("SET LOCAL ROLE {name}"),
            format!(
                "CREATE TABLE IF NOT EXISTS {name}.{VERSION_TABLE} (\
                   version integer PRIMARY KEY, \
                   name text NOT NULL, \
                   apply_time timestamptz NOT NULL DEFAULT now())"
            ),
        ],
    )
    .await
}

/// Applies one template file as the tenant's role with the schema alone on
/// the search path, and records it, in one transaction: a failing file
/// leaves nothing behind.
pub(crate) async fn apply_file(
    db: &impl Db,
    schema: TenantSchema,
    file: &TemplateFile,
) -> Result<()> {
    let name = schema.name();
    in_transaction(db, async |txn| {
        run_all(
            txn,
            &[
                format!("SET LOCAL ROLE {name}"),
                format!("SET LOCAL search_path TO {name}"),
            ],
        )
        .await?;
        txn.execute_unprepared(&file.sql).await?;
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("INSERT INTO {name}.{VERSION_TABLE} (version, name) VALUES ($1, $2)"),
            [file.version.into(), file.name.clone().into()],
        ))
        .await?;
        Ok(())
    })
    .await
}

/// The newest version recorded in the schema's version table.
pub(crate) async fn applied_version(
    db: &impl ConnectionTrait,
    schema: TenantSchema,
) -> Result<i32> {
    let name = schema.name();
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT COALESCE(MAX(version), 0) AS version FROM {name}.{VERSION_TABLE}"),
        ))
        .await?;
    row.map(|row| row.try_get::<i32>("", "version"))
        .transpose()
        .map_err(Error::from)
        .map(Option::unwrap_or_default)
}

/// Drops the schema with its objects, then what the role still owns or is
/// granted in this database (its default privileges), then the role.
pub(crate) async fn drop_schema_and_role(db: &impl Db, schema: TenantSchema) -> Result<()> {
    let name = schema.name();
    run_in_transaction(
        db,
        &[
            format!("DROP SCHEMA IF EXISTS {name} CASCADE"),
            format!(
                "DO $$ BEGIN \
                   IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{name}') THEN \
                     DROP OWNED BY {name}; \
                     DROP ROLE {name}; \
                   END IF; \
                 END $$"
            ),
        ],
    )
    .await
}

/// What the database said, without the driver's wrapping, for a reason an
/// operator reads on the tenant.
pub(crate) fn database_message(error: &Error) -> String {
    let text = match error {
        Error::Internal(cause) => cause.to_string(),
        other => other.to_string(),
    };
    const MARKER: &str = "error returned from database: ";
    match text.find(MARKER) {
        Some(at) => text[at + MARKER.len()..].to_owned(),
        None => text,
    }
}
