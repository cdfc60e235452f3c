//! The `quota_threshold_crossings` table: one row per warning threshold a
//! PERIODIC quota's usage reached in a period.

use sea_orm::entity::prelude::*;

/// A threshold reached.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "quota_threshold_crossings")]
pub struct Model {
    /// The tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    /// The quota key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub quota: String,
    /// The period, e.g. `d20261207` or `m202612`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub period: String,
    /// The threshold, in percent of the limit.
    #[sea_orm(primary_key, auto_increment = false)]
    pub threshold_percent: i32,
    /// Usage when the crossing was seen.
    pub used: i64,
    /// The limit then.
    pub quota_limit: i64,
    /// When the crossing was seen.
    pub create_time: DateTimeUtc,
}

super::plain_entity!();
