//! The `quota_overrides` table: tenant rows, under row-level security.

use sea_orm::entity::prelude::*;

/// One override of one quota for one tenant.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "quota_overrides")]
pub struct Model {
    /// The tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    /// The quota key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub quota: String,
    /// The limit replacing the plan's; ignored when `unlimited`.
    pub limit: i64,
    /// No limit.
    pub unlimited: bool,
    /// Why the override exists.
    pub reason: String,
    /// When it stops applying; never when `None`.
    pub expire_time: Option<DateTimeUtc>,
    /// Optimistic-concurrency revision.
    pub revision: i64,
    /// Creation time.
    pub create_time: DateTimeUtc,
    /// Last change.
    pub update_time: DateTimeUtc,
}

super::plain_entity!();
