//! The `tenant_flag_overrides` table: tenant rows, under row-level security.

use sea_orm::entity::prelude::*;

/// One override of one flag for one tenant.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_flag_overrides")]
pub struct Model {
    /// The tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    /// The flag key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub flag: String,
    /// The override as JSON (`domain::flag::OverrideSpec`).
    pub document: String,
    /// Optimistic-concurrency revision.
    pub revision: i64,
    /// Creation time.
    pub create_time: DateTimeUtc,
    /// Last change.
    pub update_time: DateTimeUtc,
}

super::plain_entity!();
