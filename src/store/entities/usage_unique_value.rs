//! The `usage_unique_values` table: the distinct values of a UNIQUE_COUNT
//! metric per (tenant, metric, UTC day), from folded events only.

use sea_orm::entity::prelude::*;

/// One distinct value of one tenant's metric on one day.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "usage_unique_values")]
pub struct Model {
    /// The tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    /// The metric key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub metric: String,
    /// The UTC day, `YYYY-MM-DD`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: String,
    /// The value of the metric's unique dimension.
    #[sea_orm(primary_key, auto_increment = false)]
    pub value: String,
}

super::plain_entity!();
