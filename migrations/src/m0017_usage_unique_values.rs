//! `usage_unique_values`: the distinct values of each UNIQUE_COUNT metric
//! per (tenant, metric, UTC day), written by the aggregation fold with the
//! rollups it accounts for.
//!
//! A month's UNIQUE_COUNT is the number of distinct values over its days,
//! which no sum of daily counts gives. It was counted from the raw events,
//! so a month whose events passed their retention answered 0 while its
//! daily rollups stayed; this table keeps what the month needs as long as
//! the rollups. It holds only values of folded events (below the
//! watermark), like the rollups.
//!
//! Existing values are copied from the events below the watermark; months
//! whose events were already deleted cannot be recovered.
//!
//! On PostgreSQL the table has row-level security enabled and forced, with
//! the same `tenant_isolation` and `platform_scope` policies as the other
//! usage tables.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum UsageUniqueValues {
    Table,
    TenantId,
    Metric,
    Day,
    Value,
}

/// The group role of m0003.
const APP_ROLE: &str = "tenantd_app";
/// Same as m0003: the session's tenant, NULL when unset or empty.
const CURRENT_TENANT: &str = "NULLIF(current_setting('tenantd.tenant_id', true), '')::uuid";
/// Same as m0003: whether the session acts for the platform.
const PLATFORM_SCOPE: &str = "current_setting('tenantd.platform', true) = 'on'";

async fn create_table(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(UsageUniqueValues::Table)
                .col(
                    ColumnDef::new(UsageUniqueValues::TenantId)
                        .uuid()
                        .not_null(),
                )
                .col(ColumnDef::new(UsageUniqueValues::Metric).text().not_null())
                .col(ColumnDef::new(UsageUniqueValues::Day).text().not_null())
                .col(ColumnDef::new(UsageUniqueValues::Value).text().not_null())
                .primary_key(
                    Index::create()
                        .name("ux_usage_unique_values")
                        .col(UsageUniqueValues::TenantId)
                        .col(UsageUniqueValues::Metric)
                        .col(UsageUniqueValues::Day)
                        .col(UsageUniqueValues::Value),
                )
                .to_owned(),
        )
        .await
}

/// Copies the distinct values of the events already folded.
fn backfill(backend: DbBackend) -> String {
    let folded = match backend {
        DbBackend::Postgres => {
            "ingest_xid < (SELECT position FROM usage_aggregation \
                                WHERE name = 'daily')::text::xid8"
        }
        _ => "rowid < (SELECT position FROM usage_aggregation WHERE name = 'daily')",
    };
    format!(
        "INSERT INTO usage_unique_values (tenant_id, metric, day, value) \
         SELECT DISTINCT tenant_id, metric, day, unique_value FROM usage_events \
         WHERE unique_value IS NOT NULL AND {folded}"
    )
}

/// Row-level security exactly as m0004 gives the other usage tables.
fn isolate(table: &str) -> [String; 5] {
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

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_table(manager).await?;
        let backend = manager.get_database_backend();
        let connection = manager.get_connection();
        if backend != DbBackend::Postgres {
            connection.execute_unprepared(&backfill(backend)).await?;
            return Ok(());
        }
        // Row-level security is forced on `usage_events`, so an owner that is
        // not a superuser reads every tenant's events only in the platform
        // scope; migrations run in one transaction, and the scope is set for
        // the backfill alone.
        for statement in [
            "SELECT set_config('tenantd.platform', 'on', true)".to_owned(),
            backfill(backend),
            "SELECT set_config('tenantd.platform', '', true)".to_owned(),
        ] {
            connection.execute_unprepared(&statement).await?;
        }
        for statement in isolate("usage_unique_values") {
            connection.execute_unprepared(&statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(UsageUniqueValues::Table).to_owned())
            .await
    }
}
