//! The scope a transaction runs in: one tenant's rows, a few tenants' rows,
//! or every tenant's. On PostgreSQL it is set with `SET LOCAL` at the start
//! of the transaction, and row-level security reads it.

use std::sync::Arc;

use crate::common::ids::TenantId;

/// The scope a storage transaction runs in, as storage sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// One tenant's rows (`SET LOCAL tenantd.tenant_id`).
    Tenant(TenantId),
    /// The rows of the tenants listed (`SET LOCAL tenantd.tenant_ids`),
    /// where a policy admits a list: usage events, so one statement records
    /// a batch of several tenants.
    Tenants(Arc<[TenantId]>),
    /// Every tenant's rows (`SET LOCAL tenantd.platform = 'on'`).
    Platform,
}

impl Scope {
    /// Whose turn a transaction of this scope waits for in the pool's
    /// fair queue: a batch of several tenants waits as the platform's.
    pub(crate) fn turn(&self) -> Scope {
        match self {
            Self::Tenant(tenant_id) => Self::Tenant(*tenant_id),
            Self::Tenants(_) | Self::Platform => Self::Platform,
        }
    }

    /// The transaction-local setting the policies read, and its value.
    pub(crate) fn setting(&self) -> (&'static str, String) {
        match self {
            Self::Tenant(tenant_id) => ("tenantd.tenant_id", tenant_id.to_string()),
            Self::Tenants(tenants) => {
                let listed: Vec<String> = tenants.iter().map(ToString::to_string).collect();
                ("tenantd.tenant_ids", listed.join(","))
            }
            Self::Platform => ("tenantd.platform", "on".to_owned()),
        }
    }
}
