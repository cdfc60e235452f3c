//! What the gateway needs to know of a tenant: its id in another system
//! and the source addresses its callers may use.
//!
//! `external_id` is the tenant's id at an identity provider or a CRM,
//! unique where set (`ux_tenants_external_id`; both backends let several
//! rows leave it NULL). `allowed_source_ranges` is a JSON array of CIDR
//! ranges, empty for every address. Both only add what an older release
//! ignores (see the crate docs: expand-then-contract).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    ExternalId,
    AllowedSourceRanges,
}

const INDEX: &str = "ux_tenants_external_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        manager
            .alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .add_column(ColumnDef::new(Tenants::ExternalId).string().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .add_column(
                        ColumnDef::new(Tenants::AllowedSourceRanges)
                            .json_binary()
                            .not_null()
                            .default("[]"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Tenants::Table)
                    .col(Tenants::ExternalId)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(Tenants::Table).to_owned())
            .await?;
        for column in [Tenants::AllowedSourceRanges, Tenants::ExternalId] {
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
