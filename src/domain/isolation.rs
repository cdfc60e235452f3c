//! Isolation models: where a tenant's application data lives, and which
//! model a tenant gets when its creator names none.
//!
//! `POOL` tenants share tables guarded by row-level security; `SCHEMA`
//! tenants get their own PostgreSQL schema and role (see
//! [`crate::provisioning`]). SQLite has no schemas or roles, so there every
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

    /// The model of a plan's tenants when the creator names none: the
    /// starter tier pools its many small tenants, paid tiers get a schema.
    /// Custom plans pool, as the cheaper default, unless asked otherwise.
    pub fn default_for_plan(plan: &str) -> Self {
        match plan {
            "professional" | "enterprise" => IsolationModel::Schema,
            _ => IsolationModel::Pool,
        }
    }
}

/// The model a new tenant gets: the one asked for, or its plan's default.
/// Without schema support (SQLite) a default of SCHEMA falls back to POOL,
/// so the embedded database keeps working, while an explicit SCHEMA is
/// refused with FAILED_PRECONDITION.
pub fn choose(
    requested: Option<IsolationModel>,
    plan: &str,
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
        None if schemas_supported => Ok(IsolationModel::default_for_plan(plan)),
        None => Ok(IsolationModel::Pool),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_choose_and_sqlite_pools() {
        assert_eq!(
            choose(None, "starter", true).ok(),
            Some(IsolationModel::Pool)
        );
        assert_eq!(
            choose(None, "professional", true).ok(),
            Some(IsolationModel::Schema)
        );
        assert_eq!(
            choose(None, "enterprise", false).ok(),
            Some(IsolationModel::Pool)
        );
        assert_eq!(
            choose(Some(IsolationModel::Pool), "enterprise", true).ok(),
            Some(IsolationModel::Pool)
        );
        assert!(matches!(
            choose(Some(IsolationModel::Schema), "starter", false),
            Err(Error::FailedPrecondition { .. })
        ));
    }
}
