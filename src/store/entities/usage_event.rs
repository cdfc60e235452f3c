//! The `usage_events` table: every recorded usage event, once per
//! `(tenant_id, event_id)`.

use sea_orm::entity::prelude::*;

/// One recorded event.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "usage_events")]
pub struct Model {
    /// The tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    /// The reporter's id for the event.
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_id: String,
    /// The metric key.
    pub metric: String,
    /// The quantity, in the metric's unit.
    #[sea_orm(column_type = "Double")]
    pub quantity: f64,
    /// When the usage happened.
    pub occurred_time: DateTimeUtc,
    /// The UTC day of `occurred_time`, `YYYY-MM-DD`.
    pub day: String,
    /// The dimensions, as a JSON object of strings.
    #[sea_orm(column_type = "JsonBinary")]
    pub dimensions: Json,
    /// The value of the metric's unique dimension (UNIQUE_COUNT only).
    pub unique_value: Option<String>,
    /// When tenantd recorded it.
    pub ingest_time: DateTimeUtc,
}

super::plain_entity!();
