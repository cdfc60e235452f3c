//! The `events` table: the outbox of lifecycle events, one row per event,
//! written with the change it reports (migration m0021).

use sea_orm::entity::prelude::*;

/// One event row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    /// Fleet-wide, gap-free, in commit order.
    #[sea_orm(primary_key, auto_increment = false)]
    pub sequence: i64,
    /// The CloudEvents id, a UUIDv7; unique.
    pub id: Uuid,
    /// The tenant concerned; `None` for the platform's (a plan, a flag).
    pub tenant_id: Option<Uuid>,
    /// The short type, e.g. `tenant.created`.
    pub r#type: String,
    /// The CloudEvents subject, e.g. `tenants/{id}`.
    pub subject: String,
    /// The resource changed, e.g. `tenants/{id}/domains/{hostname}`.
    pub resource: String,
    /// When the change was made.
    pub time: DateTimeUtc,
    /// The resource as it is after the change (before it, for removals).
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub data: Option<Json>,
}

super::plain_entity!();
