//! The `webhook_endpoints` table: where events are delivered (migration
//! m0022).

use sea_orm::entity::prelude::*;

/// One endpoint row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    /// A UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The tenant whose events it receives; `None` for a fleet-wide one.
    pub tenant_id: Option<Uuid>,
    /// Where events are posted.
    pub url: String,
    /// The short types it receives, a JSON array; empty for every type.
    pub event_types: String,
    /// The signing secret, `whsec_` and base64.
    pub secret: String,
    /// When it was created.
    pub create_time: DateTimeUtc,
    /// The newest event sequence already turned into its deliveries.
    pub fanned_through: i64,
    /// The replica delivering to it, while its lease lasts.
    pub lease_owner: Option<String>,
    /// Until when that replica's lease lasts.
    pub lease_until: Option<DateTimeUtc>,
    /// When it was last claimed, so claims take turns.
    pub claim_time: DateTimeUtc,
}

super::plain_entity!();
