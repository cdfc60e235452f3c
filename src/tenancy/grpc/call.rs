//! What TenantService's handlers share: the names their bodies carry (of
//! the tenant they scope the call to), the lifecycle changes, and the
//! encoding of a tenant. Written once here so that every handler is
//! convert, call, convert back.

use tonic::Response;

use crate::access::{PlatformScope, TenantScope};
use crate::common::ids::{ApiKeyName, DomainName, TenantRef};
use crate::error::Error;
use crate::pb;
use crate::rpc::Reply;
use crate::store::audit::Origin;
use crate::tenancy::audit::AuditScope;
use crate::tenancy::tenant::Tenant;

/// A call whose body names one tenant, after the gate scoped the caller
/// to it: the body, the named tenant as the caller may reach it, and who
/// changes what (for the audit log).
pub type Scoped<R> = (R, TenantScope, Origin);

/// A request whose body names what it is about in one field: a tenant
/// (`tenants/{id}` or `tenants/slug:{slug}`), or a resource under one.
pub trait Names {
    /// The field, for the errors about it.
    const FIELD: &'static str;
    /// The name as sent.
    fn name(&self) -> &str;
}

/// Implements [`Names`] for requests naming their subject in `field`.
macro_rules! names {
    ($($request:ty => $field:ident),* $(,)?) => {$(
        impl Names for $request {
            const FIELD: &'static str = stringify!($field);
            fn name(&self) -> &str {
                &self.$field
            }
        }
    )*};
}

names!(
    pb::GetTenantRequest => name,
    pb::DeleteTenantRequest => name,
    pb::UndeleteTenantRequest => name,
    pb::SuspendTenantRequest => name,
    pb::ActivateTenantRequest => name,
    pb::ExportTenantRequest => name,
    pb::GetTenantHealthRequest => name,
    pb::CreateDomainRequest => parent,
    pb::ListDomainsRequest => parent,
    pb::CreateApiKeyRequest => parent,
    pb::ListApiKeysRequest => parent,
    pb::DeleteDomainRequest => name,
    pb::VerifyDomainRequest => name,
    pb::RevokeApiKeyRequest => name,
    pb::RotateApiKeyRequest => name,
);

/// A request that changes the lifecycle of the tenant it names, while the
/// tenant still has the etag it carries.
pub trait Lifecycle: Names {
    /// The etag the tenant must still have; empty for none.
    fn etag(&self) -> &str;
}

/// Implements [`Lifecycle`] for requests carrying their etag in `etag`.
macro_rules! lifecycle {
    ($($request:ty),* $(,)?) => {$(
        impl Lifecycle for $request {
            fn etag(&self) -> &str {
                &self.etag
            }
        }
    )*};
}

lifecycle!(
    pb::DeleteTenantRequest,
    pb::UndeleteTenantRequest,
    pb::SuspendTenantRequest,
    pb::ActivateTenantRequest,
);

/// The name of a resource under one tenant (`tenants/{tenant}/…/{id}`).
pub trait UnderTenant: Sized {
    /// Parses the name from `field`.
    fn parse_from(name: &str, field: &str) -> Result<Self, Error>;
    /// The tenant it sits under.
    fn tenant(&self) -> &TenantRef;
}

impl UnderTenant for DomainName {
    fn parse_from(name: &str, field: &str) -> Result<Self, Error> {
        DomainName::parse(name, field)
    }
    fn tenant(&self) -> &TenantRef {
        &self.tenant
    }
}

impl UnderTenant for ApiKeyName {
    fn parse_from(name: &str, field: &str) -> Result<Self, Error> {
        ApiKeyName::parse(name, field)
    }
    fn tenant(&self) -> &TenantRef {
        &self.tenant
    }
}

/// Where an audit listing reads: every tenant's trail, or one tenant's.
pub enum AuditReach {
    /// `tenants/-`, for operators.
    AllTenants(PlatformScope),
    /// One tenant's trail.
    Tenant(TenantScope),
}

impl AuditReach {
    /// The scope the audit reads take.
    pub fn scope(&self) -> AuditScope<'_> {
        match self {
            AuditReach::AllTenants(platform) => AuditScope::AllTenants(platform),
            AuditReach::Tenant(scope) => AuditScope::Tenant(scope),
        }
    }
}

/// A tenant as answered.
pub fn tenant_reply(tenant: &Tenant) -> Reply<pb::Tenant> {
    Ok(Response::new(pb::Tenant::from(tenant)))
}
