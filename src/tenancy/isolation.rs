//! Isolation models: where a tenant's application data lives, and which
//! model a tenant gets when its creator names none (its plan's
//! `default_isolation`).
//!
//! `POOL` tenants share tables guarded by row-level security; `SCHEMA`
//! tenants get their own PostgreSQL schema and role (see
//! [`crate::tenancy::provisioning`]). SQLite has no schemas or roles, so there every
//! tenant is POOL and asking for SCHEMA is refused.

use serde::Serialize;

use crate::error::{Error, Result};

/// Where a tenant's application data lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IsolationModel {
    /// Shared tables, one row set per tenant under row-level security.
    Pool,
    /// Its own schema `tenant_<32 hex>` and NOLOGIN role of the same name.
    Schema,
}

impl IsolationModel {
    /// The stored spelling, e.g. `SCHEMA`.
    pub fn as_str(self) -> &'static str {
        match self {
            IsolationModel::Pool => "POOL",
            IsolationModel::Schema => "SCHEMA",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        [IsolationModel::Pool, IsolationModel::Schema]
            .into_iter()
            .find(|model| model.as_str() == text)
    }
}

/// The model a new tenant gets: the one asked for, or `plan_default`.
/// Without schema support (SQLite) a default of SCHEMA falls back to POOL,
/// so the embedded database keeps working, while an explicit SCHEMA is
/// refused with FAILED_PRECONDITION.
pub fn choose(
    requested: Option<IsolationModel>,
    plan_default: IsolationModel,
    schemas_supported: bool,
) -> Result<IsolationModel> {
    match requested {
        Some(IsolationModel::Schema) if !schemas_supported => Err(Error::failed_precondition(
            "SCHEMA_ISOLATION_UNSUPPORTED",
            "DATABASE_BACKEND",
            "tenant.isolation",
            "SCHEMA isolation needs PostgreSQL; this tenantd stores its data in SQLite, \
             so create the tenant with POOL isolation or run tenantd on PostgreSQL",
        )),
        Some(model) => Ok(model),
        None if schemas_supported => Ok(plan_default),
        None => Ok(IsolationModel::Pool),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_choose_and_sqlite_pools() {
        use IsolationModel::{Pool, Schema};
        assert_eq!(choose(None, Pool, true).ok(), Some(Pool));
        assert_eq!(choose(None, Schema, true).ok(), Some(Schema));
        assert_eq!(choose(None, Schema, false).ok(), Some(Pool));
        assert_eq!(choose(Some(Pool), Schema, true).ok(), Some(Pool));
        assert!(matches!(
            choose(Some(Schema), Pool, false),
            Err(Error::FailedPrecondition { .. })
        ));
    }
}
