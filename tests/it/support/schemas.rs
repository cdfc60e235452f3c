//! What PostgreSQL holds for SCHEMA tenants, read as the admin: schemas,
//! roles, tables; and a login role that is a member of chosen tenant roles,
//! to try what each role may do.

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement, TransactionTrait};

use super::db::{ROLE_SETUP_LOCK, create_role_if_missing, with_userinfo};

/// The login role that probes tenant roles: neither superuser nor owner.
const PROBER_ROLE: &str = "tenantd_test_prober";

/// The schema and role name of tenant `id` (its hyphenated UUID).
pub fn schema_of(id: &str) -> String {
    format!("tenant_{}", id.replace('-', ""))
}

/// Connects to `url` (a test database's owner URL).
pub async fn connect(url: &str) -> DatabaseConnection {
    Database::connect(url)
        .await
        .expect("connect to the test database")
}

async fn strings(db: &DatabaseConnection, sql: &str) -> Vec<String> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("query the catalogue")
        .into_iter()
        .map(|row| row.try_get_by_index::<String>(0).expect("a text column"))
        .collect()
}

/// Whether the schema exists.
pub async fn schema_exists(db: &DatabaseConnection, schema: &str) -> bool {
    !strings(
        db,
        &format!("SELECT nspname::text FROM pg_namespace WHERE nspname = '{schema}'"),
    )
    .await
    .is_empty()
}

/// Whether the role exists (roles are cluster-wide).
pub async fn role_exists(db: &DatabaseConnection, role: &str) -> bool {
    !strings(
        db,
        &format!("SELECT rolname::text FROM pg_roles WHERE rolname = '{role}'"),
    )
    .await
    .is_empty()
}

/// The tables of `schema` with their owners, `name:owner`, sorted.
pub async fn tables_with_owners(db: &DatabaseConnection, schema: &str) -> Vec<String> {
    strings(
        db,
        &format!(
            "SELECT tablename || ':' || tableowner FROM pg_tables \
             WHERE schemaname = '{schema}' ORDER BY tablename"
        ),
    )
    .await
}

/// A connection as a fresh-privileged login role that is a member of each
/// of `roles`, so `SET ROLE` can switch to any of them.
pub async fn prober(
    owner_url: &str,
    admin: &DatabaseConnection,
    roles: &[&str],
) -> DatabaseConnection {
    // Concurrent tests alter the same cluster-wide role: one at a time.
    let statements = std::iter::once(format!("SELECT pg_advisory_xact_lock({ROLE_SETUP_LOCK})"))
        .chain(std::iter::once(create_role_if_missing(PROBER_ROLE, "LOGIN")))
        .chain(std::iter::once(format!(
            "ALTER ROLE {PROBER_ROLE} LOGIN NOINHERIT NOSUPERUSER NOCREATEROLE NOBYPASSRLS PASSWORD '{PROBER_ROLE}'"
        )))
        .chain(roles.iter().map(|role| format!("GRANT {role} TO {PROBER_ROLE}")));
    let txn = admin.begin().await.expect("begin");
    for statement in statements {
        txn.execute_unprepared(&statement)
            .await
            .unwrap_or_else(|error| panic!("{statement}: {error}"));
    }
    txn.commit().await.expect("commit the prober's set-up");
    connect(&with_userinfo(
        owner_url,
        &format!("{PROBER_ROLE}:{PROBER_ROLE}"),
    ))
    .await
}
