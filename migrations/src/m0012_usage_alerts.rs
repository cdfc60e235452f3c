//! Usage alerts: one row per (tenant, quota, period, threshold) crossed, so
//! a crossing of 80 % or 100 % of a plan allowance is announced once per
//! period however often usage is re-evaluated. The primary key makes the
//! insert itself the "first time?" test (`ON CONFLICT DO NOTHING`).
//! Tenant rows: isolated exactly as in m0003.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum UsageAlerts {
    Table,
    TenantId,
    Quota,
    Period,
    ThresholdPercent,
    Metric,
    Used,
    Allowance,
    CreateTime,
}

/// The group role of m0003.
const APP_ROLE: &str = "tenantd_app";
/// Same as m0003: the session's tenant, NULL when unset or empty.
const CURRENT_TENANT: &str = "NULLIF(current_setting('tenantd.tenant_id', true), '')::uuid";
/// Same as m0003: whether the session acts for the platform.
const PLATFORM_SCOPE: &str = "current_setting('tenantd.platform', true) = 'on'";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UsageAlerts::Table)
                    .col(ColumnDef::new(UsageAlerts::TenantId).uuid().not_null())
                    .col(ColumnDef::new(UsageAlerts::Quota).text().not_null())
                    .col(ColumnDef::new(UsageAlerts::Period).text().not_null())
                    .col(
                        ColumnDef::new(UsageAlerts::ThresholdPercent)
                            .integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(UsageAlerts::Metric).text().not_null())
                    .col(ColumnDef::new(UsageAlerts::Used).double().not_null())
                    .col(
                        ColumnDef::new(UsageAlerts::Allowance)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(UsageAlerts::CreateTime)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .name("ux_usage_alerts")
                            .col(UsageAlerts::TenantId)
                            .col(UsageAlerts::Quota)
                            .col(UsageAlerts::Period)
                            .col(UsageAlerts::ThresholdPercent),
                    )
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let own_tenant = format!("tenant_id = {CURRENT_TENANT}");
        let statements = [
            format!("GRANT SELECT, INSERT, UPDATE, DELETE ON usage_alerts TO {APP_ROLE}"),
            "ALTER TABLE usage_alerts ENABLE ROW LEVEL SECURITY".to_owned(),
            // Without FORCE the owner would bypass the policies.
            "ALTER TABLE usage_alerts FORCE ROW LEVEL SECURITY".to_owned(),
            format!(
                "CREATE POLICY tenant_isolation ON usage_alerts \
                 USING ({own_tenant}) WITH CHECK ({own_tenant})"
            ),
            format!(
                "CREATE POLICY platform_scope ON usage_alerts \
                 USING ({PLATFORM_SCOPE}) WITH CHECK ({PLATFORM_SCOPE})"
            ),
        ];
        let connection = manager.get_connection();
        for statement in statements {
            connection.execute_unprepared(&statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(UsageAlerts::Table).to_owned())
            .await
    }
}
