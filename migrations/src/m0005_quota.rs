//! Plans and per-tenant quota overrides.
//!
//! `plans` is a global catalogue (no tenant rows): every tenant reads it, so
//! it has no row-level security, only the grant. `quota_overrides` holds
//! tenant rows and is isolated like the tables of m0003. The default plans
//! `starter`, `professional` and `enterprise` are seeded here; their quota
//! definitions are stored as the JSON the server's `QuotaDefinition` reads
//! (`tenantd::domain::plan`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Plans {
    Table,
    Id,
    DisplayName,
    Description,
    Quotas,
    Revision,
    CreateTime,
    UpdateTime,
}

#[derive(DeriveIden)]
enum QuotaOverrides {
    Table,
    TenantId,
    Quota,
    Limit,
    Unlimited,
    Reason,
    ExpireTime,
    Revision,
    CreateTime,
    UpdateTime,
}

/// The group role of m0003.
const APP_ROLE: &str = "tenantd_app";
/// Same as m0003: the session's tenant, NULL when unset or empty.
const CURRENT_TENANT: &str = "NULLIF(current_setting('tenantd.tenant_id', true), '')::uuid";
/// Same as m0003: whether the session acts for the platform.
const PLATFORM_SCOPE: &str = "current_setting('tenantd.platform', true) = 'on'";

/// One gigabyte (decimal, as plans are sold).
const GB: i64 = 1_000_000_000;

/// An allocation quota definition, as JSON; `None` is unlimited.
fn allocation(key: &str, name: &str, limit: Option<i64>) -> String {
    format!(
        r#"{{"key":"{key}","display_name":"{name}","kind":"allocation","limit":{},"unlimited":{},"warning_threshold_percents":[80,100]}}"#,
        limit.unwrap_or(0),
        limit.is_none()
    )
}

/// The quotas of a default plan, as a JSON array.
fn plan_quotas(
    users: Option<i64>,
    entities: Option<i64>,
    gb: i64,
    per_second: i64,
    daily: i64,
) -> String {
    let rate = format!(
        r#"{{"key":"api_requests","display_name":"API requests per second","kind":"rate","limit":{per_second},"period":"second","algorithm":"token_bucket","burst":{}}}"#,
        per_second * 2
    );
    let periodic = format!(
        r#"{{"key":"api_calls_daily","display_name":"API calls per day","kind":"periodic","limit":{daily},"period":"day","warning_threshold_percents":[80,100]}}"#
    );
    format!(
        "[{},{},{},{rate},{periodic}]",
        allocation("users", "Users", users),
        allocation("entities", "Entities", entities),
        allocation("storage_bytes", "Storage (bytes)", Some(gb * GB)),
    )
}

/// The default plans: id, display name, description, quotas as JSON.
fn default_plans() -> [(&'static str, &'static str, &'static str, String); 3] {
    [
        (
            "starter",
            "Starter",
            "Small teams: 5 users, 100 entities, 1 GB of storage.",
            plan_quotas(Some(5), Some(100), 1, 10, 10_000),
        ),
        (
            "professional",
            "Professional",
            "Growing teams: 20 users, 500 entities, 10 GB of storage.",
            plan_quotas(Some(20), Some(500), 10, 50, 100_000),
        ),
        (
            "enterprise",
            "Enterprise",
            "Unlimited users and entities, 100 GB of storage.",
            plan_quotas(None, None, 100, 200, 1_000_000),
        ),
    ]
}

/// Row-level security on `quota_overrides`, exactly as m0003 does it.
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

async fn create_tables(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Plans::Table)
                .col(ColumnDef::new(Plans::Id).text().not_null().primary_key())
                .col(ColumnDef::new(Plans::DisplayName).text().not_null())
                .col(ColumnDef::new(Plans::Description).text().not_null())
                .col(ColumnDef::new(Plans::Quotas).json_binary().not_null())
                .col(ColumnDef::new(Plans::Revision).big_integer().not_null())
                .col(
                    ColumnDef::new(Plans::CreateTime)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Plans::UpdateTime)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
    manager
        .create_table(
            Table::create()
                .table(QuotaOverrides::Table)
                .col(ColumnDef::new(QuotaOverrides::TenantId).uuid().not_null())
                .col(ColumnDef::new(QuotaOverrides::Quota).text().not_null())
                .col(
                    ColumnDef::new(QuotaOverrides::Limit)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(QuotaOverrides::Unlimited)
                        .boolean()
                        .not_null(),
                )
                .col(ColumnDef::new(QuotaOverrides::Reason).text().not_null())
                .col(
                    ColumnDef::new(QuotaOverrides::ExpireTime)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(
                    ColumnDef::new(QuotaOverrides::Revision)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(QuotaOverrides::CreateTime)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(QuotaOverrides::UpdateTime)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .primary_key(
                    Index::create()
                        .col(QuotaOverrides::TenantId)
                        .col(QuotaOverrides::Quota),
                )
                .to_owned(),
        )
        .await
}

/// Inserts the default plans. The statements are built from the constants
/// above only (no single quotes in them), never from user input; PostgreSQL
/// casts the literals to `jsonb` and `timestamptz` itself, SQLite stores the
/// text sea-orm reads back.
async fn seed_plans(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    // A fixed creation time keeps the seed the same in every database.
    let seeded = "2026-01-01T00:00:00+00:00";
    let connection = manager.get_connection();
    for (id, name, description, quotas) in default_plans() {
        debug_assert!(!quotas.contains('\''));
        connection
            .execute_unprepared(&format!(
                "INSERT INTO plans (id, display_name, description, quotas, revision, create_time, update_time) \
                 VALUES ('{id}', '{name}', '{description}', '{quotas}', 1, '{seeded}', '{seeded}')"
            ))
            .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_tables(manager).await?;
        seed_plans(manager).await?;
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let connection = manager.get_connection();
        connection
            .execute_unprepared(&format!(
                "GRANT SELECT, INSERT, UPDATE, DELETE ON plans TO {APP_ROLE}"
            ))
            .await?;
        for statement in isolate("quota_overrides") {
            connection.execute_unprepared(&statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(QuotaOverrides::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Plans::Table).to_owned())
            .await
    }
}
