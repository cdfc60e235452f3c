//! The `usage_rollups` table: one row per (tenant, metric, UTC day).

use sea_orm::entity::prelude::*;

/// The aggregate of one tenant's metric on one day.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "usage_rollups")]
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
    /// The aggregated value.
    #[sea_orm(column_type = "Double")]
    pub value: f64,
    /// The number of events aggregated.
    pub event_count: i64,
    /// The latest `occurred_time` aggregated, in microseconds since the
    /// epoch (which event a LATEST value comes from).
    pub latest_micros: i64,
    /// The greatest `event_id` at `latest_micros` (LATEST's tie-break).
    pub latest_event_id: String,
    /// When the row last changed.
    pub update_time: DateTimeUtc,
}

super::plain_entity!();
