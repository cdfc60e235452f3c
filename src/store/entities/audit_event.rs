//! The `audit_events` table: append-only.

use sea_orm::entity::prelude::*;

/// One audit event row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    /// UUIDv7 made from `create_time`, so id order is time order.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The tenant concerned, if any.
    pub tenant_id: Option<Uuid>,
    /// Who acted.
    pub actor: String,
    /// The RPC.
    pub action: String,
    /// The resource changed.
    pub resource: String,
    /// The call's request id.
    pub request_id: String,
    /// The resource before the change.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub before: Option<Json>,
    /// The resource after the change.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub after: Option<Json>,
    /// Commit time.
    pub create_time: DateTimeUtc,
}

super::plain_entity!();
