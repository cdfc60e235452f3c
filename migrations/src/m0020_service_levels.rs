//! Per-tenant service levels: the objectives a plan declares, and the
//! calls every replica counted per tenant and minute.
//!
//! `plans.objectives` is a nullable JSON object (availability, latency
//! threshold and target); NULL, as every existing plan gets, declares none.
//!
//! `tenant_call_minutes` holds one row per (tenant, UTC minute, replica):
//! the replica's running totals of that minute, each flush replacing the
//! row it wrote before, so a repeated flush changes nothing. `minute` is
//! minutes since the Unix epoch, so windows and the retention are integer
//! comparisons on both backends. `buckets` is a JSON array of the calls in
//! each latency bucket (not cumulative), in the order of the bounds. Rows
//! are tenant rows, isolated like the tables of m0003; the index on
//! `minute` serves the retention's delete and the fleet-wide reads of the
//! last day.
//!
//! Both only add what an older release ignores (see the crate docs:
//! expand-then-contract).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Plans {
    Table,
    Objectives,
}

#[derive(DeriveIden)]
enum TenantCallMinutes {
    Table,
    TenantId,
    Minute,
    Replica,
    Requests,
    Failures,
    LatencySumMicros,
    Buckets,
}

const TABLE: &str = "tenant_call_minutes";
const MINUTE_INDEX: &str = "ix_tenant_call_minutes_minute";

/// The group role of m0003.
const APP_ROLE: &str = "tenantd_app";
/// Same as m0003: the session's tenant, NULL when unset or empty.
const CURRENT_TENANT: &str = "NULLIF(current_setting('tenantd.tenant_id', true), '')::uuid";
/// Same as m0003: whether the session acts for the platform.
const PLATFORM_SCOPE: &str = "current_setting('tenantd.platform', true) = 'on'";

/// Row-level security on a tenant table, exactly as m0003 does it.
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

fn call_minutes_table() -> TableCreateStatement {
    use TenantCallMinutes as Column;
    let count = |column: Column| ColumnDef::new(column).big_integer().not_null().to_owned();
    Table::create()
        .table(Column::Table)
        .col(ColumnDef::new(Column::TenantId).uuid().not_null())
        .col(ColumnDef::new(Column::Minute).big_integer().not_null())
        .col(ColumnDef::new(Column::Replica).text().not_null())
        .col(count(Column::Requests))
        .col(count(Column::Failures))
        .col(count(Column::LatencySumMicros))
        .col(ColumnDef::new(Column::Buckets).text().not_null())
        .primary_key(
            Index::create()
                .col(Column::TenantId)
                .col(Column::Minute)
                .col(Column::Replica),
        )
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Plans::Table)
                    .add_column(ColumnDef::new(Plans::Objectives).json_binary().null())
                    .to_owned(),
            )
            .await?;
        manager.create_table(call_minutes_table()).await?;
        manager
            .create_index(
                Index::create()
                    .name(MINUTE_INDEX)
                    .table(TenantCallMinutes::Table)
                    .col(TenantCallMinutes::Minute)
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let connection = manager.get_connection();
        for statement in isolate(TABLE) {
            connection.execute_unprepared(&statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TenantCallMinutes::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Plans::Table)
                    .drop_column(Plans::Objectives)
                    .to_owned(),
            )
            .await
    }
}
