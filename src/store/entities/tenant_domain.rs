//! The `tenant_domains` table: custom domains.

use sea_orm::entity::prelude::*;

/// One custom domain row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_domains")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// ASCII hostname: one claim per tenant
    /// (`ux_tenant_domains_tenant_hostname`), one VERIFIED claim across
    /// tenants (`ux_tenant_domains_verified_hostname`).
    pub hostname: String,
    /// `PENDING` or `VERIFIED`.
    pub state: String,
    /// The token expected in the TXT record.
    pub verification_token: String,
    /// Creation time.
    pub create_time: DateTimeUtc,
    /// Verification time.
    pub verify_time: Option<DateTimeUtc>,
}

super::plain_entity!();
