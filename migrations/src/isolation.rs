//! Row-level security on tenant tables, exactly as m0003 sets it up: for
//! migrations from m0025 on to share (the released ones before it keep
//! their own copies, since a released migration is never edited).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// The group role of m0003.
const APP_ROLE: &str = "tenantd_app";
/// Same as m0003: the session's tenant, NULL when unset or empty.
const CURRENT_TENANT: &str = "NULLIF(current_setting('tenantd.tenant_id', true), '')::uuid";
/// Same as m0003: whether the session acts for the platform.
const PLATFORM_SCOPE: &str = "current_setting('tenantd.platform', true) = 'on'";

/// The statements isolating `table`, whose rows carry a `tenant_id`.
fn statements(table: &str) -> [String; 5] {
    let own_tenant = format!("tenant_id = {CURRENT_TENANT}");
    [
        format!("GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP_ROLE}"),
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

/// Isolates each of `tables` on PostgreSQL: a tenant's session sees only
/// its own rows, the platform scope every row. SQLite has no row-level
/// security (one tenantd process owns the file), so nothing is done there.
pub(crate) async fn isolate_tenant_tables(
    manager: &SchemaManager<'_>,
    tables: &[&str],
) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let connection = manager.get_connection();
    for table in tables {
        for statement in statements(table) {
            connection.execute_unprepared(&statement).await?;
        }
    }
    Ok(())
}
