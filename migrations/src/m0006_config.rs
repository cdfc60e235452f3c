//! Configuration layers and their versions.
//!
//! `config_versions` holds the versions of every tenant's own layer
//! (`tenants/{id}/config`): tenant rows, isolated like the tables of m0003.
//! `config_layer_versions` holds the versions of the fleet-wide layers
//! (`defaults/config` under the key `defaults`, `plans/{plan}/config` under
//! `plan:{plan}`): a global catalogue every tenant reads, so it has the
//! grant only. Versions are immutable rows numbered from 1 per layer; the
//! primary key (layer, version) makes two concurrent writers of the same
//! next version collide instead of both winning. Documents are stored as
//! JSON text, read and written whole.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ConfigVersions {
    Table,
    TenantId,
}

#[derive(DeriveIden)]
enum ConfigLayerVersions {
    Table,
    Layer,
}

/// The columns both tables share.
#[derive(DeriveIden)]
enum VersionColumn {
    Version,
    Document,
    Author,
    Comment,
    RequestId,
    RestoredVersion,
    CreateTime,
}

/// The group role of m0003.
const APP_ROLE: &str = "tenantd_app";
/// Same as m0003: the session's tenant, NULL when unset or empty.
const CURRENT_TENANT: &str = "NULLIF(current_setting('tenantd.tenant_id', true), '')::uuid";
/// Same as m0003: whether the session acts for the platform.
const PLATFORM_SCOPE: &str = "current_setting('tenantd.platform', true) = 'on'";

/// Row-level security on `config_versions`, exactly as m0003 does it.
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

/// A versions table keyed by `key` (already added to `table`).
fn versions_table(
    mut table: TableCreateStatement,
    key: ColumnDef,
    key_iden: impl IntoIden,
) -> TableCreateStatement {
    table
        .col(key)
        .col(
            ColumnDef::new(VersionColumn::Version)
                .big_integer()
                .not_null(),
        )
        .col(ColumnDef::new(VersionColumn::Document).text().not_null())
        .col(ColumnDef::new(VersionColumn::Author).text().not_null())
        .col(ColumnDef::new(VersionColumn::Comment).text().not_null())
        .col(ColumnDef::new(VersionColumn::RequestId).text().not_null())
        .col(
            ColumnDef::new(VersionColumn::RestoredVersion)
                .big_integer()
                .not_null(),
        )
        .col(
            ColumnDef::new(VersionColumn::CreateTime)
                .timestamp_with_time_zone()
                .not_null(),
        )
        .primary_key(Index::create().col(key_iden).col(VersionColumn::Version))
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut tenant = Table::create();
        tenant.table(ConfigVersions::Table);
        manager
            .create_table(versions_table(
                tenant,
                ColumnDef::new(ConfigVersions::TenantId)
                    .uuid()
                    .not_null()
                    .to_owned(),
                ConfigVersions::TenantId,
            ))
            .await?;
        let mut global = Table::create();
        global.table(ConfigLayerVersions::Table);
        manager
            .create_table(versions_table(
                global,
                ColumnDef::new(ConfigLayerVersions::Layer)
                    .text()
                    .not_null()
                    .to_owned(),
                ConfigLayerVersions::Layer,
            ))
            .await?;
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let connection = manager.get_connection();
        connection
            .execute_unprepared(&format!(
                "GRANT SELECT, INSERT, UPDATE, DELETE ON config_layer_versions TO {APP_ROLE}"
            ))
            .await?;
        for statement in isolate("config_versions") {
            connection.execute_unprepared(&statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ConfigLayerVersions::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ConfigVersions::Table).to_owned())
            .await
    }
}
