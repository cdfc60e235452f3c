//! The `webhook_attempts` table: every attempt to deliver an event to an
//! endpoint (migration m0022).

use sea_orm::entity::prelude::*;

/// One attempt row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_attempts")]
pub struct Model {
    /// The endpoint.
    #[sea_orm(primary_key, auto_increment = false)]
    pub endpoint_id: Uuid,
    /// The event's sequence.
    #[sea_orm(primary_key, auto_increment = false)]
    pub sequence: i64,
    /// 1 for the first attempt, counting on across redeliveries.
    #[sea_orm(primary_key, auto_increment = false)]
    pub attempt: i32,
    /// The endpoint's tenant; `None` for a fleet-wide endpoint.
    pub tenant_id: Option<Uuid>,
    /// When it was made.
    pub time: DateTimeUtc,
    /// How long it took, in milliseconds.
    pub duration_ms: i64,
    /// The HTTP status answered, when there was one.
    pub status: Option<i32>,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

super::plain_entity!();
