//! Usage metering: the metric catalogue, raw usage events and their daily
//! rollups.
//!
//! - `usage_metrics` is a global catalogue (no tenant rows): the grant
//!   only, no row-level security.
//! - `usage_events` holds every recorded event once: its primary key
//!   `(tenant_id, event_id)` is what makes a re-sent event a duplicate
//!   (`INSERT … ON CONFLICT DO NOTHING`). `day` is the UTC day of
//!   `occurred_time` as `YYYY-MM-DD` text, which sorts and compares the same
//!   on both backends; `unique_value` is the value of the metric's unique
//!   dimension, for UNIQUE_COUNT metrics.
//! - `usage_rollups` holds one row per (tenant, metric, UTC day), updated
//!   in the transaction that records the events. `latest_micros` and
//!   `latest_event_id` remember which event a LATEST value comes from (as
//!   integers, not timestamps, so both backends order them alike).
//!
//! Both tenant tables are isolated exactly as in m0003.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum UsageMetrics {
    Table,
    Key,
    DisplayName,
    Description,
    Unit,
    Aggregation,
    UniqueDimension,
    Revision,
    CreateTime,
    UpdateTime,
}

#[derive(DeriveIden)]
enum UsageEvents {
    Table,
    TenantId,
    EventId,
    Metric,
    Quantity,
    OccurredTime,
    Day,
    Dimensions,
    UniqueValue,
    IngestTime,
}

#[derive(DeriveIden)]
enum UsageRollups {
    Table,
    TenantId,
    Metric,
    Day,
    Value,
    EventCount,
    LatestMicros,
    LatestEventId,
    UpdateTime,
}

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

fn timestamp(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

async fn create_metrics(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(UsageMetrics::Table)
                .col(
                    ColumnDef::new(UsageMetrics::Key)
                        .text()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(UsageMetrics::DisplayName).text().not_null())
                .col(ColumnDef::new(UsageMetrics::Description).text().not_null())
                .col(ColumnDef::new(UsageMetrics::Unit).text().not_null())
                .col(ColumnDef::new(UsageMetrics::Aggregation).text().not_null())
                .col(
                    ColumnDef::new(UsageMetrics::UniqueDimension)
                        .text()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(UsageMetrics::Revision)
                        .big_integer()
                        .not_null(),
                )
                .col(timestamp(UsageMetrics::CreateTime))
                .col(timestamp(UsageMetrics::UpdateTime))
                .to_owned(),
        )
        .await
}

async fn create_events(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(UsageEvents::Table)
                .col(ColumnDef::new(UsageEvents::TenantId).uuid().not_null())
                .col(ColumnDef::new(UsageEvents::EventId).text().not_null())
                .col(ColumnDef::new(UsageEvents::Metric).text().not_null())
                .col(ColumnDef::new(UsageEvents::Quantity).double().not_null())
                .col(timestamp(UsageEvents::OccurredTime))
                .col(ColumnDef::new(UsageEvents::Day).text().not_null())
                .col(
                    ColumnDef::new(UsageEvents::Dimensions)
                        .json_binary()
                        .not_null(),
                )
                .col(ColumnDef::new(UsageEvents::UniqueValue).text().null())
                .col(timestamp(UsageEvents::IngestTime))
                .primary_key(
                    Index::create()
                        .name("ux_usage_events")
                        .col(UsageEvents::TenantId)
                        .col(UsageEvents::EventId),
                )
                .to_owned(),
        )
        .await?;
    // Distinct counts and recomputations read one tenant's metric by day.
    manager
        .create_index(
            Index::create()
                .name("ix_usage_events_day")
                .table(UsageEvents::Table)
                .col(UsageEvents::TenantId)
                .col(UsageEvents::Metric)
                .col(UsageEvents::Day)
                .to_owned(),
        )
        .await
}

async fn create_rollups(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(UsageRollups::Table)
                .col(ColumnDef::new(UsageRollups::TenantId).uuid().not_null())
                .col(ColumnDef::new(UsageRollups::Metric).text().not_null())
                .col(ColumnDef::new(UsageRollups::Day).text().not_null())
                .col(ColumnDef::new(UsageRollups::Value).double().not_null())
                .col(
                    ColumnDef::new(UsageRollups::EventCount)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(UsageRollups::LatestMicros)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(UsageRollups::LatestEventId)
                        .text()
                        .not_null(),
                )
                .col(timestamp(UsageRollups::UpdateTime))
                .primary_key(
                    Index::create()
                        .name("ux_usage_rollups")
                        .col(UsageRollups::TenantId)
                        .col(UsageRollups::Metric)
                        .col(UsageRollups::Day),
                )
                .to_owned(),
        )
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_metrics(manager).await?;
        create_events(manager).await?;
        create_rollups(manager).await?;
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let connection = manager.get_connection();
        connection
            .execute_unprepared(&format!(
                "GRANT SELECT, INSERT, UPDATE, DELETE ON usage_metrics TO {APP_ROLE}"
            ))
            .await?;
        for table in ["usage_events", "usage_rollups"] {
            for statement in isolate(table) {
                connection.execute_unprepared(&statement).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            UsageRollups::Table.into_iden(),
            UsageEvents::Table.into_iden(),
            UsageMetrics::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
