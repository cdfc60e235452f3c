//! Tenant isolation in the database itself, and when an API key was last
//! used.
//!
//! On PostgreSQL the server connects as a member of the group role
//! `tenantd_app`, which is neither superuser nor owner of the tables, while
//! migrations run as the owner. Every table holding tenant-owned rows has
//! row-level security enabled and forced, with two permissive policies:
//!
//! - `tenant_isolation`: a row is visible and writable when its tenant is the
//!   one named by the session setting `tenantd.tenant_id`;
//! - `platform_scope`: every row is visible and writable when
//!   `tenantd.platform` is `on`, for the platform-wide operations (listing
//!   tenants, resolving a hostname, the audit log of all tenants).
//!
//! So a query that forgets its tenant filter still sees one tenant at most,
//! and none when no tenant is set. `idempotency_keys` holds no tenant rows
//! and has no policies. SQLite has no roles nor row security: there only
//! the column is added.
//!
//! Because security is forced, the policies apply to the owner too, unless
//! it is a superuser: a later data migration running as a plain owner must
//! `SET LOCAL tenantd.platform = 'on'` to see any row.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    LastUsedTime,
}

/// The group role the server's login role belongs to.
const APP_ROLE: &str = "tenantd_app";

/// Every table the migrations create, all of which the server reads and
/// writes.
const APP_TABLES: [&str; 5] = [
    "tenants",
    "tenant_domains",
    "audit_events",
    "idempotency_keys",
    "api_keys",
];

/// Tables holding tenant-owned rows, with the column naming their tenant.
const TENANT_TABLES: [(&str, &str); 4] = [
    ("tenants", "id"),
    ("tenant_domains", "tenant_id"),
    ("api_keys", "tenant_id"),
    ("audit_events", "tenant_id"),
];

/// The tenant of the session. `NULLIF` because a custom setting once set
/// with `SET LOCAL` reads `''` for the rest of the session, not NULL, and
/// `''::uuid` would fail every query instead of matching no row.
const CURRENT_TENANT: &str = "NULLIF(current_setting('tenantd.tenant_id', true), '')::uuid";

/// Whether the session acts for the platform rather than one tenant.
const PLATFORM_SCOPE: &str = "current_setting('tenantd.platform', true) = 'on'";

/// Creates the group role unless it exists. Roles are cluster-wide and
/// several databases may migrate at once on one server, so losing the race
/// to another `CREATE ROLE` is not an error; the existence check first lets
/// an owner without CREATEROLE migrate once an administrator made the role.
fn create_app_role() -> String {
    format!(
        "DO $$ BEGIN \
           IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN \
             CREATE ROLE {APP_ROLE} NOLOGIN; \
           END IF; \
         EXCEPTION \
           WHEN duplicate_object THEN NULL; \
           WHEN unique_violation THEN NULL; \
         END $$"
    )
}

/// The grants of the application role, in the order they are made.
fn grants() -> Vec<String> {
    let mut statements = vec![format!("GRANT USAGE ON SCHEMA public TO {APP_ROLE}")];
    statements.extend(
        APP_TABLES
            .iter()
            .map(|table| format!("GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP_ROLE}")),
    );
    // The server checks for pending migrations; it never applies them.
    statements.push(format!("GRANT SELECT ON seaql_migrations TO {APP_ROLE}"));
    // Tables of later migrations, created by the same owner, are covered too.
    statements.push(format!(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public \
         GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}"
    ));
    statements
}

/// Revokes what [`grants`] gave. The role itself stays: other databases on
/// the server may still use it.
fn revocations() -> Vec<String> {
    let mut statements = vec![format!(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public \
         REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM {APP_ROLE}"
    )];
    statements.push(format!("REVOKE SELECT ON seaql_migrations FROM {APP_ROLE}"));
    statements.extend(
        APP_TABLES.iter().map(|table| {
            format!("REVOKE SELECT, INSERT, UPDATE, DELETE ON {table} FROM {APP_ROLE}")
        }),
    );
    statements.push(format!("REVOKE USAGE ON SCHEMA public FROM {APP_ROLE}"));
    statements
}

/// Row-level security on one tenant-owned table.
fn isolate(table: &str, tenant_column: &str) -> [String; 4] {
    let own_tenant = format!("{tenant_column} = {CURRENT_TENANT}");
    [
        format!("ALTER TABLE {table} ENABLE ROW LEVEL SECURITY"),
        // Without FORCE the owner would bypass the policies.
        format!("ALTER TABLE {table} FORCE ROW LEVEL SECURITY"),
        format!(
            "CREATE POLICY tenant_isolation ON {table} \
             USING ({own_tenant}) WITH CHECK ({own_tenant})"
        ),
        format!(
            "CREATE POLICY platform_scope ON {table} \
             USING ({PLATFORM_SCOPE}) WITH CHECK ({PLATFORM_SCOPE})"
        ),
    ]
}

/// Undoes [`isolate`].
fn unisolate(table: &str) -> [String; 4] {
    [
        format!("DROP POLICY IF EXISTS platform_scope ON {table}"),
        format!("DROP POLICY IF EXISTS tenant_isolation ON {table}"),
        format!("ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY"),
        format!("ALTER TABLE {table} DISABLE ROW LEVEL SECURITY"),
    ]
}

async fn execute_all(
    manager: &SchemaManager<'_>,
    statements: impl IntoIterator<Item = String>,
) -> Result<(), DbErr> {
    let connection = manager.get_connection();
    for statement in statements {
        connection.execute_unprepared(&statement).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ApiKeys::Table)
                    .add_column(
                        ColumnDef::new(ApiKeys::LastUsedTime)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        execute_all(manager, [create_app_role()]).await?;
        execute_all(manager, grants()).await?;
        for (table, tenant_column) in TENANT_TABLES {
            execute_all(manager, isolate(table, tenant_column)).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            for (table, _) in TENANT_TABLES {
                execute_all(manager, unisolate(table)).await?;
            }
            execute_all(manager, revocations()).await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(ApiKeys::Table)
                    .drop_column(ApiKeys::LastUsedTime)
                    .to_owned(),
            )
            .await
    }
}
