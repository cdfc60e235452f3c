//! Isolation models on tenants: `isolation` (`POOL` or `SCHEMA`) and
//! `template_version`, the newest tenant-template file applied to a SCHEMA
//! tenant's own schema (0 before any, and always 0 for POOL tenants); and
//! on plans, `default_isolation`, what their new tenants get unless asked
//! otherwise: the seeded paid plans `professional` and `enterprise` SCHEMA,
//! every other plan POOL.
//!
//! Existing tenants keep their data in the shared tables, so they become
//! POOL. The columns are covered by m0003's and m0005's table grants and
//! policies.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Isolation,
    TemplateVersion,
}

#[derive(DeriveIden)]
enum Plans {
    Table,
    DefaultIsolation,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        manager
            .alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .add_column(
                        ColumnDef::new(Tenants::Isolation)
                            .text()
                            .not_null()
                            .default("POOL"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .add_column(
                        ColumnDef::new(Tenants::TemplateVersion)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Plans::Table)
                    .add_column(
                        ColumnDef::new(Plans::DefaultIsolation)
                            .text()
                            .not_null()
                            .default("POOL"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE plans SET default_isolation = 'SCHEMA' \
                 WHERE id IN ('professional', 'enterprise')",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Plans::Table)
                    .drop_column(Plans::DefaultIsolation)
                    .to_owned(),
            )
            .await?;
        for column in [Tenants::TemplateVersion, Tenants::Isolation] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tenants::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
