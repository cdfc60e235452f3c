//! The `api_keys` table: API keys of tenants, stored by hash.

use sea_orm::entity::prelude::*;

/// One API key row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    /// Key id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// Public prefix, unique across tenants (`ux_api_keys_prefix`).
    pub prefix: String,
    /// SHA-256 of the whole key, hex.
    pub secret_sha256: String,
    /// What the key is for.
    pub display_name: String,
    /// Scopes, a JSON array of strings.
    pub scopes: Json,
    /// Creation time.
    pub create_time: DateTimeUtc,
    /// Expiry.
    pub expire_time: Option<DateTimeUtc>,
    /// Revocation time.
    pub revoke_time: Option<DateTimeUtc>,
    /// The key this one replaced.
    pub rotated_from: Option<Uuid>,
    /// When the key last authenticated a request; `None` if never.
    pub last_used_time: Option<DateTimeUtc>,
}

super::plain_entity!();
