//! The `usage_alerts` table: one row per plan-allowance threshold a tenant
//! crossed in a period.

use sea_orm::entity::prelude::*;

/// A threshold crossed.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "usage_alerts")]
pub struct Model {
    /// The tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    /// The quota whose allowance it is.
    #[sea_orm(primary_key, auto_increment = false)]
    pub quota: String,
    /// The period, e.g. `m202611`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub period: String,
    /// The threshold, in percent of the allowance.
    #[sea_orm(primary_key, auto_increment = false)]
    pub threshold_percent: i32,
    /// The metric the quota counts.
    pub metric: String,
    /// Usage when the crossing was seen.
    #[sea_orm(column_type = "Double")]
    pub used: f64,
    /// The allowance then.
    pub allowance: i64,
    /// When the crossing was seen.
    pub create_time: DateTimeUtc,
}

super::plain_entity!();
