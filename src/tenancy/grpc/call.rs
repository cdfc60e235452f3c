//! What TenantService's handlers share: opening a call (its tenant context
//! and body), the scope of the tenant its body names, and the encoding of
//! a tenant. Written once here so that every handler is convert, call,
//! convert back.

use tonic::{Request, Response, Status};

use crate::access::{PlatformScope, TenantContext, TenantScope, context};
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
    pb::CreateDomainRequest => parent,
    pb::ListDomainsRequest => parent,
    pb::CreateApiKeyRequest => parent,
    pb::ListApiKeysRequest => parent,
    pb::DeleteDomainRequest => name,
    pb::VerifyDomainRequest => name,
    pb::RevokeApiKeyRequest => name,
    pb::RotateApiKeyRequest => name,
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

/// The call's tenant context and body.
pub fn open<R>(request: Request<R>) -> Result<(TenantContext, R), Status> {
    let context = context(&request)?;
    Ok((context, request.into_inner()))
}

/// A tenant as answered.
pub fn tenant_reply(tenant: &Tenant) -> Reply<pb::Tenant> {
    Ok(Response::new(pb::Tenant::from(tenant)))
}
