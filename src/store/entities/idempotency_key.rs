//! The `idempotency_keys` table: request ids of create calls.

use sea_orm::entity::prelude::*;

/// One remembered request.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    /// The method the request id belongs to, e.g. `CreateTenant`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub scope: String,
    /// The caller's request id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub request_id: Uuid,
    /// Hash of the request, to refuse a reused id with other content.
    pub fingerprint: String,
    /// Name of the resource the first call created.
    pub resource: String,
    /// When the first call committed.
    pub create_time: DateTimeUtc,
}

super::plain_entity!();
