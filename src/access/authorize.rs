//! Authorization: whether a caller may call a method (the access table's
//! rule for it), and whether a tenant may be used now. Pure checks; the
//! gate runs them in the order its module docs give.

use crate::access::caller::Caller;
use crate::access::methods::{ANY_SCOPE, MethodAccess};
use crate::error::{Error, Result};
use crate::tenancy::{Tenant, TenantState};

/// PERMISSION_DENIED with `reason`.
fn denied(reason: &'static str, message: impl Into<String>) -> Error {
    Error::PermissionDenied {
        reason,
        message: message.into(),
    }
}

/// A request naming a tenant other than the one the caller reaches.
pub(crate) fn mismatch() -> Error {
    denied(
        "TENANT_MISMATCH",
        "the request names a tenant other than the caller's",
    )
}

/// Whether `caller` may call the method of `rule`.
pub(crate) fn authorize(caller: &Caller, rule: &MethodAccess) -> Result<()> {
    match caller {
        Caller::Admin { .. } => Ok(()),
        Caller::Service { .. } if rule.service_callers => Ok(()),
        Caller::Service { .. } => Err(denied(
            "CALLER_NOT_ALLOWED",
            format!(
                "service tokens may not call {}; only data-path methods",
                rule.method
            ),
        )),
        Caller::Tenant { scopes, .. } | Caller::User { scopes, .. } => match rule.tenant_scope {
            Some(ANY_SCOPE) => Ok(()),
            Some(scope) if scopes.iter().any(|held| held == scope) => Ok(()),
            Some(scope) => Err(denied(
                "SCOPE_MISSING",
                format!("{} needs an API key with the scope {scope}", rule.method),
            )),
            None => Err(denied(
                "CALLER_NOT_ALLOWED",
                format!("API keys and users may not call {}", rule.method),
            )),
        },
    }
}

/// Refuses tenants that services and keys may not use now.
pub(crate) fn check_usable(tenant: &Tenant) -> Result<()> {
    let name = tenant.id.resource_name();
    match tenant.state {
        TenantState::Active => Ok(()),
        TenantState::Suspended => Err(denied(
            "TENANT_SUSPENDED",
            format!("tenant {name} is suspended"),
        )),
        TenantState::Provisioning => Err(tenant.refused(
            "TENANT_PROVISIONING",
            format!("tenant {name} is still being provisioned; retry shortly"),
        )),
        TenantState::Deleted => Err(Error::NotFound {
            kind: "tenant",
            name,
        }),
        TenantState::Failed => Err(tenant.refused(
            "TENANT_FAILED",
            format!("tenant {name} could not be provisioned; an operator must retry it"),
        )),
    }
}
