//! How far a SCHEMA tenant's provisioning has come: the number of the
//! last step finished, how many steps there are and the finished step's
//! name, set while the tenant is PROVISIONING (and kept when it FAILED,
//! to say where). All three are nullable, so an older release, which
//! neither reads nor writes them, keeps working (expand-then-contract).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Tenants {
    Table,
    ProvisioningStep,
    ProvisioningTotalSteps,
    ProvisioningStepName,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for column in [Tenants::ProvisioningStep, Tenants::ProvisioningTotalSteps] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tenants::Table)
                        .add_column(ColumnDef::new(column).integer().null())
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .add_column(
                        ColumnDef::new(Tenants::ProvisioningStepName)
                            .string()
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Tenants::ProvisioningStepName,
            Tenants::ProvisioningTotalSteps,
            Tenants::ProvisioningStep,
        ] {
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
