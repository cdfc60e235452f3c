//! Quota threshold crossings: one row per (tenant, quota, period,
//! threshold) a PERIODIC quota's usage reached, so each warning threshold
//! is announced once per period however many calls and replicas see it
//! reached. As in m0012, the primary key makes the insert itself the
//! "first time?" test. A tenant table, isolated as in m0003. Only a new
//! table, which an older release ignores (expand-then-contract).

use sea_orm_migration::prelude::*;

use crate::isolation::isolate_tenant_tables;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum QuotaThresholdCrossings {
    Table,
    TenantId,
    Quota,
    Period,
    ThresholdPercent,
    Used,
    QuotaLimit,
    CreateTime,
}

const TABLE: &str = "quota_threshold_crossings";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use QuotaThresholdCrossings as Q;
        manager
            .create_table(
                Table::create()
                    .table(Q::Table)
                    .col(ColumnDef::new(Q::TenantId).uuid().not_null())
                    .col(ColumnDef::new(Q::Quota).text().not_null())
                    .col(ColumnDef::new(Q::Period).text().not_null())
                    .col(ColumnDef::new(Q::ThresholdPercent).integer().not_null())
                    .col(ColumnDef::new(Q::Used).big_integer().not_null())
                    .col(ColumnDef::new(Q::QuotaLimit).big_integer().not_null())
                    .col(
                        ColumnDef::new(Q::CreateTime)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .name("ux_quota_threshold_crossings")
                            .col(Q::TenantId)
                            .col(Q::Quota)
                            .col(Q::Period)
                            .col(Q::ThresholdPercent),
                    )
                    .to_owned(),
            )
            .await?;
        isolate_tenant_tables(manager, &[TABLE]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(QuotaThresholdCrossings::Table)
                    .to_owned(),
            )
            .await
    }
}
