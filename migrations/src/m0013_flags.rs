//! Feature flags and their overrides.
//!
//! `flags` holds the fleet-wide definitions and `plan_flag_overrides` the
//! overrides of a plan: global catalogues every tenant reads, so they have
//! the grant only. `tenant_flag_overrides` holds one tenant's overrides:
//! tenant rows, isolated like the tables of m0003. The definition and each
//! override keep their rules, variants and rollouts as one JSON document
//! (text), read and written whole; `value_type` and `enabled` of a flag are
//! columns because ListFlags filters on them. Rows carry a revision, so
//! changes are conditional on the row read.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Flags {
    Table,
    Key,
    ValueType,
    Enabled,
}

#[derive(DeriveIden)]
enum PlanFlagOverrides {
    Table,
    Plan,
}

#[derive(DeriveIden)]
enum TenantFlagOverrides {
    Table,
    TenantId,
}

/// The columns every table shares.
#[derive(DeriveIden)]
enum Common {
    Flag,
    Document,
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

/// The document, revision and times every table ends with.
fn common_columns(table: &mut TableCreateStatement) -> &mut TableCreateStatement {
    table
        .col(ColumnDef::new(Common::Document).text().not_null())
        .col(ColumnDef::new(Common::Revision).big_integer().not_null())
        .col(
            ColumnDef::new(Common::CreateTime)
                .timestamp_with_time_zone()
                .not_null(),
        )
        .col(
            ColumnDef::new(Common::UpdateTime)
                .timestamp_with_time_zone()
                .not_null(),
        )
}

fn flags_table() -> TableCreateStatement {
    let mut table = Table::create();
    table
        .table(Flags::Table)
        .col(ColumnDef::new(Flags::Key).text().not_null().primary_key())
        .col(ColumnDef::new(Flags::ValueType).text().not_null())
        .col(ColumnDef::new(Flags::Enabled).boolean().not_null());
    common_columns(&mut table).to_owned()
}

/// An overrides table whose owner column `owner` is already added.
fn overrides_table(mut table: TableCreateStatement, owner: impl IntoIden) -> TableCreateStatement {
    table.col(ColumnDef::new(Common::Flag).text().not_null());
    common_columns(&mut table)
        .primary_key(Index::create().col(owner).col(Common::Flag))
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(flags_table()).await?;
        let mut plan = Table::create();
        plan.table(PlanFlagOverrides::Table)
            .col(ColumnDef::new(PlanFlagOverrides::Plan).text().not_null());
        manager
            .create_table(overrides_table(plan, PlanFlagOverrides::Plan))
            .await?;
        let mut tenant = Table::create();
        tenant.table(TenantFlagOverrides::Table).col(
            ColumnDef::new(TenantFlagOverrides::TenantId)
                .uuid()
                .not_null(),
        );
        manager
            .create_table(overrides_table(tenant, TenantFlagOverrides::TenantId))
            .await?;
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let connection = manager.get_connection();
        for table in ["flags", "plan_flag_overrides"] {
            connection
                .execute_unprepared(&format!(
                    "GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP_ROLE}"
                ))
                .await?;
        }
        for statement in isolate("tenant_flag_overrides") {
            connection.execute_unprepared(&statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TenantFlagOverrides::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(PlanFlagOverrides::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Flags::Table).to_owned())
            .await
    }
}
