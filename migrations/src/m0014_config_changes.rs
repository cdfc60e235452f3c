//! The configuration change log that WatchConfig streams from.
//!
//! `config_changes` records every change to a configuration layer, a flag
//! or a flag override, and every move of a tenant to another plan, under a
//! fleet-wide `revision`. Revisions come from the one row of
//! `config_revision`, which each writer increments inside its transaction:
//! the row lock makes concurrent writers commit in revision order, so a
//! reader that has seen revision `r` committed will never later find a
//! smaller one appear. Rows whose `tenant_id` is NULL are fleet-wide (the
//! defaults and plan layers, flags, plan overrides) and readable by every
//! tenant; the others are tenant rows, isolated as in m0003.
//!
//! Layer versions also record the revision they were written under, so the
//! effective configuration of a tenant can be rebuilt as of any revision
//! (versions written before this migration count as older than all).
//! `pruned_through` is the newest revision the log no longer holds.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ConfigChanges {
    Table,
    Revision,
    TenantId,
    Plan,
    Kind,
    Subject,
    CreateTime,
}

#[derive(DeriveIden)]
enum ConfigRevision {
    Table,
    Id,
    Revision,
    PrunedThrough,
}

#[derive(DeriveIden)]
enum ConfigVersions {
    Table,
}

#[derive(DeriveIden)]
enum ConfigLayerVersions {
    Table,
}

#[derive(DeriveIden)]
enum VersionColumn {
    Revision,
}

/// The group role of m0003.
const APP_ROLE: &str = "tenantd_app";
/// Same as m0003: the session's tenant, NULL when unset or empty.
const CURRENT_TENANT: &str = "NULLIF(current_setting('tenantd.tenant_id', true), '')::uuid";
/// Same as m0003: whether the session acts for the platform.
const PLATFORM_SCOPE: &str = "current_setting('tenantd.platform', true) = 'on'";

fn postgres_statements() -> Vec<String> {
    let own_tenant = format!("tenant_id = {CURRENT_TENANT}");
    vec![
        format!("GRANT SELECT, UPDATE ON config_revision TO {APP_ROLE}"),
        format!("GRANT SELECT, INSERT, DELETE ON config_changes TO {APP_ROLE}"),
        "ALTER TABLE config_changes ENABLE ROW LEVEL SECURITY".to_owned(),
        // Without FORCE the owner would bypass the policies.
        "ALTER TABLE config_changes FORCE ROW LEVEL SECURITY".to_owned(),
        // A tenant reads its own rows and the fleet-wide ones, and writes
        // only its own.
        format!(
            "CREATE POLICY tenant_isolation ON config_changes \
             USING (tenant_id IS NULL OR {own_tenant}) WITH CHECK ({own_tenant})"
        ),
        format!(
            "CREATE POLICY platform_scope ON config_changes \
             USING ({PLATFORM_SCOPE}) WITH CHECK ({PLATFORM_SCOPE})"
        ),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ConfigChanges::Table)
                    .col(
                        ColumnDef::new(ConfigChanges::Revision)
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ConfigChanges::TenantId).uuid().null())
                    .col(ColumnDef::new(ConfigChanges::Plan).text().null())
                    .col(ColumnDef::new(ConfigChanges::Kind).text().not_null())
                    .col(ColumnDef::new(ConfigChanges::Subject).text().not_null())
                    .col(
                        ColumnDef::new(ConfigChanges::CreateTime)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ConfigRevision::Table)
                    .col(
                        ColumnDef::new(ConfigRevision::Id)
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ConfigRevision::Revision)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ConfigRevision::PrunedThrough)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(ConfigRevision::Table)
                    .columns([
                        ConfigRevision::Id,
                        ConfigRevision::Revision,
                        ConfigRevision::PrunedThrough,
                    ])
                    .values([1.into(), 0.into(), 0.into()])
                    .map_err(|error| DbErr::Custom(error.to_string()))?
                    .to_owned(),
            )
            .await?;
        for table in [
            ConfigVersions::Table.into_iden(),
            ConfigLayerVersions::Table.into_iden(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(ColumnDef::new(VersionColumn::Revision).big_integer().null())
                        .to_owned(),
                )
                .await?;
        }
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let connection = manager.get_connection();
        for statement in postgres_statements() {
            connection.execute_unprepared(&statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ConfigVersions::Table.into_iden(),
            ConfigLayerVersions::Table.into_iden(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .drop_column(VersionColumn::Revision)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_table(Table::drop().table(ConfigRevision::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ConfigChanges::Table).to_owned())
            .await
    }
}
