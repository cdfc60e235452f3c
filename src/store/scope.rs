//! The scope a transaction runs in: one tenant's rows or every tenant's.
//! On PostgreSQL it is set with `SET LOCAL` at the start of the
//! transaction, and row-level security reads it.

use crate::common::ids::TenantId;

/// The scope a storage transaction runs in, as storage sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// One tenant's rows (`SET LOCAL tenantd.tenant_id`).
    Tenant(TenantId),
    /// Every tenant's rows (`SET LOCAL tenantd.platform = 'on'`).
    Platform,
}
