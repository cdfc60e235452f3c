//! The tenant context of a call: who calls, for which tenant, and the
//! scopes through which storage is reached.
//!
//! Invariants:
//! - a [`TenantContext`] is made only by the gate ([`crate::access::gate`]), after
//!   authentication, resolution and the status check;
//! - tenant data is reached only through a [`TenantScope`] or a
//!   [`PlatformScope`], which only this module and the gate can make: a
//!   handler that forgets to consult the context has no scope to pass, so
//!   it cannot reach tenant data at all;
//! - on PostgreSQL every transaction of a scope sets `tenantd.tenant_id` or
//!   `tenantd.platform` with `SET LOCAL`, and row-level security enforces
//!   the scope again below the application.

use crate::common::ids::{ApiKeyId, TenantId};
use crate::store::audit::Origin;
use crate::store::scope::Scope;
use crate::tenancy::TenantState;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// An operator, by the name of its configured token.
    Admin {
        /// The token's configured name (shared: made once per token, not
        /// per call).
        name: std::sync::Arc<str>,
    },
    /// An internal microservice, by the name of its configured token.
    Service {
        /// The token's configured name.
        name: std::sync::Arc<str>,
    },
    /// An API key of one tenant.
    Tenant {
        /// The key's tenant.
        tenant_id: TenantId,
        /// The key.
        key_id: ApiKeyId,
        /// The key's public prefix.
        prefix: String,
        /// What the key may do.
        scopes: Vec<String>,
    },
    /// An end user of one tenant, by a JWT of a trusted issuer.
    User {
        /// The tenant its token names.
        tenant_id: TenantId,
        /// The token's subject (`sub`).
        subject: String,
        /// What its roles grant.
        scopes: Vec<String>,
    },
}

impl Caller {
    /// `admin`, `service`, `tenant` or `user`: the `caller.kind` span field.
    pub fn kind(&self) -> &'static str {
        match self {
            Caller::Admin { .. } => "admin",
            Caller::Service { .. } => "service",
            Caller::Tenant { .. } => "tenant",
            Caller::User { .. } => "user",
        }
    }

    /// Who the caller is, for the `caller.name` span field: a token's
    /// configured name, an API key's public prefix or a user's subject;
    /// never a secret.
    pub fn name(&self) -> &str {
        match self {
            Caller::Admin { name } | Caller::Service { name } => name,
            Caller::Tenant { prefix, .. } => prefix,
            Caller::User { subject, .. } => subject,
        }
    }

    /// The one tenant an API key or a user acts within; `None` for
    /// operators and services, who name the tenant per call.
    pub fn own_tenant(&self) -> Option<TenantId> {
        match self {
            Caller::Tenant { tenant_id, .. } | Caller::User { tenant_id, .. } => Some(*tenant_id),
            Caller::Admin { .. } | Caller::Service { .. } => None,
        }
    }

    /// The actor the audit log records: `admin:NAME`, `service:NAME`,
    /// `key:PREFIX` or `user:SUBJECT`.
    pub fn actor(&self) -> String {
        match self {
            Caller::Admin { name } => format!("admin:{name}"),
            Caller::Service { name } => format!("service:{name}"),
            Caller::Tenant { prefix, .. } => format!("key:{prefix}"),
            Caller::User { subject, .. } => format!("user:{subject}"),
        }
    }
}

/// The tenant a call was resolved to, as the gate saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedTenant {
    /// Its id.
    pub id: TenantId,
    /// Its slug.
    pub slug: String,
    /// Its status when resolved.
    pub state: TenantState,
    /// Its plan.
    pub plan: String,
}

/// What the tenant context layer puts in every admitted request.
// The private field keeps other modules of this crate (handlers included)
// from making contexts; `#[non_exhaustive]` would only stop other crates.
#[allow(clippy::manual_non_exhaustive)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantContext {
    /// Who calls.
    pub caller: Caller,
    /// The tenant the call is for, when its metadata or key named one.
    pub tenant: Option<ResolvedTenant>,
    /// The call's request id.
    pub request_id: String,
    /// Kept private so only the gate builds contexts.
    _sealed: (),
}

impl TenantContext {
    /// A context; only the gate calls this.
    pub(crate) fn new(caller: Caller, tenant: Option<ResolvedTenant>, request_id: String) -> Self {
        Self {
            caller,
            tenant,
            request_id,
            _sealed: (),
        }
    }

    /// The origin audit records are written with: the caller and
    /// `request_id`, or the call's request id when that is empty.
    pub fn origin(&self, request_id: &str) -> Origin {
        Origin {
            actor: self.caller.actor(),
            request_id: if request_id.is_empty() {
                self.request_id.clone()
            } else {
                request_id.to_owned()
            },
        }
    }

    /// The tenant whose budget (its bulkhead) the call spends: the one it
    /// acts for, unless an operator makes it.
    pub fn budgeted_tenant(&self) -> Option<TenantId> {
        if matches!(self.caller, Caller::Admin { .. }) {
            return None;
        }
        match &self.tenant {
            Some(tenant) => Some(tenant.id),
            None => self.caller.own_tenant(),
        }
    }

    /// The platform scope, for cross-tenant work; admin callers only.
    pub fn platform(&self) -> crate::error::Result<PlatformScope> {
        match &self.caller {
            Caller::Admin { name } => {
                tracing::info!(actor = %name, "platform scope");
                Ok(PlatformScope { _sealed: () })
            }
            _ => Err(crate::error::Error::PermissionDenied {
                reason: "PLATFORM_SCOPE_REQUIRED",
                message: "only operators may act across tenants".to_owned(),
            }),
        }
    }
}

/// What a caller of a fleet-wide stream (WatchEvents) may read: the
/// whole fleet, or its own tenant only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Operators and services: every tenant's rows and the platform's.
    Fleet(PlatformScope),
    /// A tenant's API key or user: its own tenant's rows.
    Own(TenantScope),
}

impl TenantContext {
    /// What the caller may read of a fleet-wide log. Only for methods whose
    /// row in the access table admits service callers to platform data:
    /// the table has already decided the caller may call the method.
    pub fn reach(&self) -> Reach {
        match self.caller.own_tenant() {
            Some(tenant_id) => Reach::Own(TenantScope::new(tenant_id)),
            None => Reach::Fleet(PlatformScope { _sealed: () }),
        }
    }
}

/// Access to one tenant's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantScope {
    /// The tenant.
    tenant_id: TenantId,
}

impl TenantScope {
    /// A scope on `tenant_id`; only the gate and the tenant directory call
    /// this, after checking the caller may act for the tenant.
    pub(crate) fn new(tenant_id: TenantId) -> Self {
        Self { tenant_id }
    }

    /// The tenant.
    pub fn tenant_id(&self) -> TenantId {
        self.tenant_id
    }
}

/// Access to every tenant's rows: for operators' cross-tenant work and for
/// the gate's own lookups (a key by its prefix, a tenant by its host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlatformScope {
    /// Kept private so only this module and the gate make one.
    _sealed: (),
}

impl PlatformScope {
    /// The scope of tenantd's own lookups and background work.
    pub(crate) fn system() -> Self {
        Self { _sealed: () }
    }
}

impl From<&TenantScope> for Scope {
    fn from(scope: &TenantScope) -> Self {
        Scope::Tenant(scope.tenant_id)
    }
}

impl From<&PlatformScope> for Scope {
    fn from(_: &PlatformScope) -> Self {
        Scope::Platform
    }
}
