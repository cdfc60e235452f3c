//! The `webhook_deliveries` table: one event's delivery to one endpoint
//! (migration m0022).

use sea_orm::entity::prelude::*;

/// One delivery row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    /// The endpoint.
    #[sea_orm(primary_key, auto_increment = false)]
    pub endpoint_id: Uuid,
    /// The event's sequence.
    #[sea_orm(primary_key, auto_increment = false)]
    pub sequence: i64,
    /// The endpoint's tenant; `None` for a fleet-wide endpoint.
    pub tenant_id: Option<Uuid>,
    /// The event's CloudEvents id, sent as `webhook-id`.
    pub event_id: Uuid,
    /// The event's subject; deliveries of one subject go in order.
    pub subject: String,
    /// `PENDING`, `DELIVERED` or `DEAD`.
    pub state: String,
    /// Attempts made so far.
    pub attempts: i32,
    /// When the next attempt is due.
    pub next_attempt_time: DateTimeUtc,
    /// Since when it is retried (its creation, or its redelivery).
    pub retry_since: DateTimeUtc,
    /// The HTTP status of the last attempt, when it got one.
    pub last_status: Option<i32>,
    /// Why the last attempt failed, when it did.
    pub last_error: Option<String>,
    /// When it last changed.
    pub update_time: DateTimeUtc,
}

super::plain_entity!();
