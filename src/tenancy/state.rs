//! The lifecycle states of a tenant and their stored spelling.

use serde::Serialize;

/// The lifecycle state of a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TenantState {
    /// Being provisioned; not yet serving.
    Provisioning,
    /// Serving.
    Active,
    /// Refused until activated.
    Suspended,
    /// Soft-deleted, waiting for its purge time.
    Deleted,
    /// Provisioning failed; `state_reason` says why, and activating the
    /// tenant retries it.
    Failed,
}

impl TenantState {
    /// The stored and filterable spelling, e.g. `ACTIVE`.
    pub fn as_str(self) -> &'static str {
        match self {
            TenantState::Provisioning => "PROVISIONING",
            TenantState::Active => "ACTIVE",
            TenantState::Suspended => "SUSPENDED",
            TenantState::Deleted => "DELETED",
            TenantState::Failed => "FAILED",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        [
            TenantState::Provisioning,
            TenantState::Active,
            TenantState::Suspended,
            TenantState::Deleted,
            TenantState::Failed,
        ]
        .into_iter()
        .find(|state| state.as_str() == text)
    }
}
