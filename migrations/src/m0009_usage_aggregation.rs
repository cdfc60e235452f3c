//! Continuous usage aggregation: ingestion records events only, and a
//! background job folds them into `usage_rollups` from a watermark.
//!
//! - `usage_events.ingest_xid` (PostgreSQL only) is the id of the
//!   transaction that recorded the event (`pg_current_xact_id()`). The job
//!   folds only events whose xid is below the oldest transaction still
//!   running (`pg_snapshot_xmin`), so no transaction with a lower xid can
//!   commit after the watermark has passed it. SQLite serialises writers,
//!   so its `rowid` plays the same role.
//! - `usage_aggregation` holds one row per job: `position` is the watermark
//!   (every event below it is in the rollups, none at or above it), written
//!   in the same transaction as the rollups it moved; `aggregated_through`
//!   is a time before which every recorded event is below the watermark.
//!   `pending_position`/`pending_through` are the next such pair: every
//!   event committed before `pending_through` is below `pending_position`
//!   (the next xid to be assigned then), so once the watermark passes
//!   `pending_position`, `pending_through` becomes `aggregated_through`.
//!   It holds no tenant rows: the grant only, no row-level security.
//!
//! - `usage_events` gains the policy `tenant_batch`: a transaction that
//!   lists tenants in `tenantd.tenant_ids` (comma-separated ids) reaches
//!   their rows only, so one statement records a batch of many tenants
//!   while row-level security still checks every row's tenant.
//!
//! Events recorded before this migration are already in the rollups (they
//! were added at ingestion), so the watermark starts above all of them.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum UsageAggregation {
    Table,
    Name,
    Position,
    AggregatedThrough,
    PendingPosition,
    PendingThrough,
    UpdateTime,
}

/// The group role of m0003.
const APP_ROLE: &str = "tenantd_app";

async fn create_progress(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(UsageAggregation::Table)
                .col(
                    ColumnDef::new(UsageAggregation::Name)
                        .text()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(UsageAggregation::Position)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(UsageAggregation::AggregatedThrough)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(
                    ColumnDef::new(UsageAggregation::PendingPosition)
                        .big_integer()
                        .null(),
                )
                .col(
                    ColumnDef::new(UsageAggregation::PendingThrough)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(
                    ColumnDef::new(UsageAggregation::UpdateTime)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_progress(manager).await?;
        let connection = manager.get_connection();
        if manager.get_database_backend() != DbBackend::Postgres {
            connection
                .execute_unprepared(
                    "INSERT INTO usage_aggregation (name, position, update_time) \
                     SELECT 'daily', COALESCE(MAX(rowid), 0) + 1, CURRENT_TIMESTAMP \
                     FROM usage_events",
                )
                .await?;
            return Ok(());
        }
        for statement in [
            "ALTER TABLE usage_events \
             ADD COLUMN ingest_xid xid8 NOT NULL DEFAULT pg_current_xact_id()",
            "CREATE INDEX ix_usage_events_xid ON usage_events (ingest_xid)",
            // The list is parsed once per statement (an InitPlan), not per row.
            "CREATE POLICY tenant_batch ON usage_events \
             USING (tenant_id = ANY ((SELECT string_to_array( \
                 NULLIF(current_setting('tenantd.tenant_ids', true), ''), ','))::uuid[])) \
             WITH CHECK (tenant_id = ANY ((SELECT string_to_array( \
                 NULLIF(current_setting('tenantd.tenant_ids', true), ''), ','))::uuid[]))",
            // The next xid to be assigned: above every event recorded so far.
            "INSERT INTO usage_aggregation (name, position, update_time) \
             SELECT 'daily', pg_snapshot_xmax(pg_current_snapshot())::text::bigint, now()",
        ] {
            connection.execute_unprepared(statement).await?;
        }
        connection
            .execute_unprepared(&format!(
                "GRANT SELECT, UPDATE ON usage_aggregation TO {APP_ROLE}"
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            for statement in [
                "DROP POLICY tenant_batch ON usage_events",
                "ALTER TABLE usage_events DROP COLUMN ingest_xid",
            ] {
                manager
                    .get_connection()
                    .execute_unprepared(statement)
                    .await?;
            }
        }
        manager
            .drop_table(Table::drop().table(UsageAggregation::Table).to_owned())
            .await
    }
}
