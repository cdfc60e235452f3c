//! The one way to name a tenant's schema and role: from a validated
//! [`TenantId`], never from user text, so the name can be written into DDL
//! unquoted and cannot inject anything.

use std::fmt;

use crate::common::ids::TenantId;

/// The schema of a SCHEMA tenant and the NOLOGIN role of the same name
/// that owns it: `tenant_<32 lowercase hex of the id>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantSchema {
    /// The tenant whose schema it is.
    tenant_id: TenantId,
}

/// What every tenant schema and role name starts with.
pub const PREFIX: &str = "tenant_";

impl TenantSchema {
    /// The schema of `tenant_id`.
    pub fn of(tenant_id: TenantId) -> Self {
        Self { tenant_id }
    }

    /// The tenant.
    pub fn tenant_id(&self) -> TenantId {
        self.tenant_id
    }

    /// The schema and role name: `tenant_` and 39 characters at most of
    /// `[0-9a-f]`, well inside PostgreSQL's 63-byte identifiers.
    pub fn name(&self) -> String {
        let name = format!("{PREFIX}{}", self.tenant_id.as_uuid().simple());
        debug_assert!(
            name.len() == PREFIX.len() + 32
                && name[PREFIX.len()..]
                    .bytes()
                    .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
        );
        name
    }
}

impl fmt::Display for TenantSchema {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lowercase_hex_of_the_id() {
        let id = TenantId::parse("0190f6a5-8e2b-7c3d-9a1b-2c3d4e5f6a7b", "id").unwrap();
        assert_eq!(
            TenantSchema::of(id).name(),
            "tenant_0190f6a58e2b7c3d9a1b2c3d4e5f6a7b"
        );
    }
}
