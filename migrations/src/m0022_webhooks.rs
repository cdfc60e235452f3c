//! Webhooks: the endpoints events are delivered to, each event's delivery
//! to each endpoint, and every attempt made.
//!
//! `webhook_endpoints` holds one row per endpoint: its URL, its event-type
//! filter (a JSON array of short types, empty for every type), its signing
//! secret (kept as it is, since the server must compute HMACs with it),
//! `fanned_through` (the newest event sequence already turned into
//! deliveries for it) and the lease of the replica delivering to it
//! (`lease_owner`, `lease_until`; `claim_time` orders claims so every
//! endpoint gets its turn). A tenant's endpoints carry its `tenant_id`;
//! fleet-wide endpoints are platform rows (`tenant_id` NULL).
//!
//! `webhook_deliveries` holds one row per (endpoint, event sequence): its
//! state (`PENDING`, `DELIVERED`, `DEAD`), attempts so far, when the next
//! is due and since when it is retried. `webhook_attempts` holds one row
//! per attempt. Both carry the endpoint's `tenant_id`.
//!
//! All three are tenant rows, isolated like the tables of m0003 and m0020
//! (a tenant sees only its own endpoints and their deliveries; the NULL
//! rows of fleet-wide endpoints only the platform scope sees). Only new
//! tables, which an older release ignores (expand-then-contract).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    Id,
    TenantId,
    Url,
    EventTypes,
    Secret,
    CreateTime,
    FannedThrough,
    LeaseOwner,
    LeaseUntil,
    ClaimTime,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    EndpointId,
    Sequence,
    TenantId,
    EventId,
    Subject,
    State,
    Attempts,
    NextAttemptTime,
    RetrySince,
    LastStatus,
    LastError,
    UpdateTime,
}

#[derive(DeriveIden)]
enum WebhookAttempts {
    Table,
    EndpointId,
    Sequence,
    Attempt,
    TenantId,
    Time,
    DurationMs,
    Status,
    Error,
}

const TABLES: [&str; 3] = [
    "webhook_endpoints",
    "webhook_deliveries",
    "webhook_attempts",
];
const TENANT_INDEX: &str = "ix_webhook_endpoints_tenant";
const PENDING_INDEX: &str = "ix_webhook_deliveries_state";

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

fn endpoints_table() -> TableCreateStatement {
    use WebhookEndpoints as Column;
    Table::create()
        .table(Column::Table)
        .col(ColumnDef::new(Column::Id).uuid().not_null().primary_key())
        .col(ColumnDef::new(Column::TenantId).uuid().null())
        .col(ColumnDef::new(Column::Url).text().not_null())
        .col(ColumnDef::new(Column::EventTypes).text().not_null())
        .col(ColumnDef::new(Column::Secret).text().not_null())
        .col(timestamp(Column::CreateTime))
        .col(
            ColumnDef::new(Column::FannedThrough)
                .big_integer()
                .not_null(),
        )
        .col(ColumnDef::new(Column::LeaseOwner).text().null())
        .col(
            ColumnDef::new(Column::LeaseUntil)
                .timestamp_with_time_zone()
                .null(),
        )
        .col(timestamp(Column::ClaimTime))
        .to_owned()
}

fn deliveries_table() -> TableCreateStatement {
    use WebhookDeliveries as Column;
    Table::create()
        .table(Column::Table)
        .col(ColumnDef::new(Column::EndpointId).uuid().not_null())
        .col(ColumnDef::new(Column::Sequence).big_integer().not_null())
        .col(ColumnDef::new(Column::TenantId).uuid().null())
        .col(ColumnDef::new(Column::EventId).uuid().not_null())
        .col(ColumnDef::new(Column::Subject).text().not_null())
        .col(ColumnDef::new(Column::State).text().not_null())
        .col(ColumnDef::new(Column::Attempts).integer().not_null())
        .col(timestamp(Column::NextAttemptTime))
        .col(timestamp(Column::RetrySince))
        .col(ColumnDef::new(Column::LastStatus).integer().null())
        .col(ColumnDef::new(Column::LastError).text().null())
        .col(timestamp(Column::UpdateTime))
        .primary_key(
            Index::create()
                .col(Column::EndpointId)
                .col(Column::Sequence),
        )
        .to_owned()
}

fn attempts_table() -> TableCreateStatement {
    use WebhookAttempts as Column;
    Table::create()
        .table(Column::Table)
        .col(ColumnDef::new(Column::EndpointId).uuid().not_null())
        .col(ColumnDef::new(Column::Sequence).big_integer().not_null())
        .col(ColumnDef::new(Column::Attempt).integer().not_null())
        .col(ColumnDef::new(Column::TenantId).uuid().null())
        .col(timestamp(Column::Time))
        .col(ColumnDef::new(Column::DurationMs).big_integer().not_null())
        .col(ColumnDef::new(Column::Status).integer().null())
        .col(ColumnDef::new(Column::Error).text().null())
        .primary_key(
            Index::create()
                .col(Column::EndpointId)
                .col(Column::Sequence)
                .col(Column::Attempt),
        )
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(endpoints_table()).await?;
        manager.create_table(deliveries_table()).await?;
        manager.create_table(attempts_table()).await?;
        let indexes = [
            Index::create()
                .name(TENANT_INDEX)
                .table(WebhookEndpoints::Table)
                .col(WebhookEndpoints::TenantId)
                .to_owned(),
            Index::create()
                .name(PENDING_INDEX)
                .table(WebhookDeliveries::Table)
                .col(WebhookDeliveries::EndpointId)
                .col(WebhookDeliveries::State)
                .col(WebhookDeliveries::Sequence)
                .to_owned(),
        ];
        for index in indexes {
            manager.create_index(index).await?;
        }
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let connection = manager.get_connection();
        for table in TABLES {
            for statement in isolate(table) {
                connection.execute_unprepared(&statement).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WebhookAttempts::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(WebhookDeliveries::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(WebhookEndpoints::Table).to_owned())
            .await
    }
}
