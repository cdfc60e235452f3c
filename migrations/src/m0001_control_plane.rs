//! Tenants, their custom domains, the audit log and idempotency keys.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    Slug,
    DisplayName,
    State,
    StateReason,
    StateBeforeDelete,
    Plan,
    Labels,
    Revision,
    CreateTime,
    UpdateTime,
    DeleteTime,
    PurgeTime,
}

#[derive(DeriveIden)]
enum TenantDomains {
    Table,
    Id,
    TenantId,
    Hostname,
    State,
    VerificationToken,
    CreateTime,
    VerifyTime,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    TenantId,
    Actor,
    Action,
    Resource,
    RequestId,
    Before,
    After,
    CreateTime,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    Scope,
    RequestId,
    Fingerprint,
    Resource,
    CreateTime,
}

fn timestamp(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column)
        .timestamp_with_time_zone()
        .not_null()
        .take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tenants::Table)
                    .col(ColumnDef::new(Tenants::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Tenants::Slug).string().not_null())
                    .col(ColumnDef::new(Tenants::DisplayName).string().not_null())
                    .col(ColumnDef::new(Tenants::State).string().not_null())
                    .col(ColumnDef::new(Tenants::StateReason).string().not_null())
                    .col(ColumnDef::new(Tenants::StateBeforeDelete).string().null())
                    .col(ColumnDef::new(Tenants::Plan).string().not_null())
                    .col(ColumnDef::new(Tenants::Labels).json_binary().not_null())
                    .col(ColumnDef::new(Tenants::Revision).big_integer().not_null())
                    .col(timestamp(Tenants::CreateTime))
                    .col(timestamp(Tenants::UpdateTime))
                    .col(
                        ColumnDef::new(Tenants::DeleteTime)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Tenants::PurgeTime)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        // Slugs stay unique until the tenant is purged, so undelete never
        // collides with a tenant created meanwhile.
        manager
            .create_index(
                Index::create()
                    .name("ux_tenants_slug")
                    .table(Tenants::Table)
                    .col(Tenants::Slug)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_tenants_state")
                    .table(Tenants::Table)
                    .col(Tenants::State)
                    .col(Tenants::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(TenantDomains::Table)
                    .col(
                        ColumnDef::new(TenantDomains::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(TenantDomains::TenantId).uuid().not_null())
                    .col(ColumnDef::new(TenantDomains::Hostname).string().not_null())
                    .col(ColumnDef::new(TenantDomains::State).string().not_null())
                    .col(
                        ColumnDef::new(TenantDomains::VerificationToken)
                            .string()
                            .not_null(),
                    )
                    .col(timestamp(TenantDomains::CreateTime))
                    .col(
                        ColumnDef::new(TenantDomains::VerifyTime)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_tenant_domains_tenant")
                            .from(TenantDomains::Table, TenantDomains::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // A hostname belongs to at most one tenant, whatever its state.
        manager
            .create_index(
                Index::create()
                    .name("ux_tenant_domains_hostname")
                    .table(TenantDomains::Table)
                    .col(TenantDomains::Hostname)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_tenant_domains_tenant")
                    .table(TenantDomains::Table)
                    .col(TenantDomains::TenantId)
                    .col(TenantDomains::Hostname)
                    .to_owned(),
            )
            .await?;

        // No foreign key to tenants: the audit trail outlives a purge.
        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(
                        ColumnDef::new(AuditEvents::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AuditEvents::TenantId).uuid().null())
                    .col(ColumnDef::new(AuditEvents::Actor).string().not_null())
                    .col(ColumnDef::new(AuditEvents::Action).string().not_null())
                    .col(ColumnDef::new(AuditEvents::Resource).string().not_null())
                    .col(ColumnDef::new(AuditEvents::RequestId).string().not_null())
                    .col(ColumnDef::new(AuditEvents::Before).json_binary().null())
                    .col(ColumnDef::new(AuditEvents::After).json_binary().null())
                    .col(timestamp(AuditEvents::CreateTime))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_audit_events_tenant")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::TenantId)
                    .col(AuditEvents::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .col(ColumnDef::new(IdempotencyKeys::Scope).string().not_null())
                    .col(ColumnDef::new(IdempotencyKeys::RequestId).uuid().not_null())
                    .col(
                        ColumnDef::new(IdempotencyKeys::Fingerprint)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IdempotencyKeys::Resource)
                            .string()
                            .not_null(),
                    )
                    .col(timestamp(IdempotencyKeys::CreateTime))
                    .primary_key(
                        Index::create()
                            .name("ux_idempotency_keys")
                            .col(IdempotencyKeys::Scope)
                            .col(IdempotencyKeys::RequestId),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
