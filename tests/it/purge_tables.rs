//! The purge removes a tenant's rows from a fixed list of tables: every
//! control-plane table with a `tenant_id` column must be on it (or be the
//! audit log, which the purge keeps), or a purge would leave rows behind.

use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};

use crate::support::Backend;
use crate::support::db::{TestDatabase, postgres_available};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_table_with_tenant_rows_is_purged() {
    if !postgres_available().await {
        return;
    }
    let database = TestDatabase::create(Backend::Postgres).await;
    database.migrate_as_owner().await;
    let owner = Database::connect(&database.owner_url)
        .await
        .expect("connect");
    let rows = owner
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT table_name::text AS name FROM information_schema.columns \
             WHERE table_schema = 'public' AND column_name = 'tenant_id' ORDER BY 1",
        ))
        .await
        .expect("list tables");
    let mut missing: Vec<String> = rows
        .iter()
        .map(|row| row.try_get::<String>("", "name").expect("a name"))
        .filter(|table| {
            table != "audit_events"
                && !tenantd::tenancy::store::purge::TENANT_TABLES.contains(&table.as_str())
        })
        .collect();
    missing.sort();
    assert!(
        missing.is_empty(),
        "tables a purge would leave rows in: {missing:?}"
    );
    let _ = owner.close().await;
    database.drop_database().await;
}
