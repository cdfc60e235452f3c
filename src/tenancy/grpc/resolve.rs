//! ResolveTenant's request and answer.

use crate::access::{Caller, MAX_TOKEN_BYTES, ResolveTarget, ResolvedBy};
use crate::common::ids::TenantId;
use crate::error::{Error, Result};
use crate::pb;
use crate::pb::resolve_tenant_request::Target;
use crate::rpc::convert::timestamp;
use crate::tenancy::Tenant;
use crate::tenancy::grpc::convert::tenant_state;

/// What ResolveTenant is asked: a tenant by name, or a credential's.
pub enum Resolve {
    /// A host, an id, a slug or an external id.
    Target(ResolveTarget),
    /// A credential a service received, without `Bearer `.
    Credential(String),
}

/// The proto spelling of how a tenant was resolved.
pub fn resolved_by(by: ResolvedBy) -> pb::ResolvedBy {
    match by {
        ResolvedBy::CustomDomain => pb::ResolvedBy::CustomDomain,
        ResolvedBy::Subdomain => pb::ResolvedBy::Subdomain,
        ResolvedBy::TenantId => pb::ResolvedBy::TenantId,
        ResolvedBy::Slug => pb::ResolvedBy::Slug,
        ResolvedBy::ExternalId => pb::ResolvedBy::ExternalId,
    }
}

/// The response of ResolveTenant for a tenant found by name.
pub fn resolve_response(tenant: &Tenant, by: ResolvedBy) -> pb::ResolveTenantResponse {
    pb::ResolveTenantResponse {
        tenant: tenant.id.resource_name(),
        tenant_id: tenant.id.to_string(),
        slug: tenant.slug.clone(),
        plan: tenant.plan.clone(),
        state: tenant_state(tenant.state).into(),
        resolved_by: resolved_by(by).into(),
        external_id: tenant.external_id.clone().unwrap_or_default(),
        ..Default::default()
    }
}

/// The response of ResolveTenant for a credential: its tenant, who it is,
/// what it may do and until when.
pub fn credential_response(
    tenant: &Tenant,
    caller: &Caller,
    expire_time: Option<chrono::DateTime<chrono::Utc>>,
) -> pb::ResolveTenantResponse {
    let scopes = match caller {
        Caller::Tenant { scopes, .. } | Caller::User { scopes, .. } => scopes.clone(),
        Caller::Admin { .. } | Caller::Service { .. } => Vec::new(),
    };
    pb::ResolveTenantResponse {
        resolved_by: pb::ResolvedBy::Credential.into(),
        caller: caller.actor(),
        scopes,
        credential_expire_time: expire_time.map(timestamp),
        ..resolve_response(tenant, ResolvedBy::TenantId)
    }
}

/// Validates ResolveTenant's target: a host (lowercased), an id, a slug,
/// an external id or a credential.
pub fn resolve_request(target: Option<Target>) -> Result<Resolve> {
    let target = match target {
        Some(Target::Host(host)) if !host.is_empty() => {
            ResolveTarget::Host(host.to_ascii_lowercase())
        }
        Some(Target::TenantId(id)) => ResolveTarget::TenantId(TenantId::parse(&id, "tenant_id")?),
        Some(Target::Slug(slug)) if !slug.is_empty() => ResolveTarget::Slug(slug),
        Some(Target::ExternalId(id)) if !id.is_empty() => ResolveTarget::ExternalId(id),
        Some(Target::Credential(credential)) => return credential_of(&credential),
        _ => {
            return Err(Error::invalid_field(
                "target",
                "set one of host, tenant_id, slug, external_id or credential",
            ));
        }
    };
    Ok(Resolve::Target(target))
}

/// The credential without its `Bearer ` scheme; never echoed in errors.
fn credential_of(credential: &str) -> Result<Resolve> {
    if credential.len() > MAX_TOKEN_BYTES {
        return Err(Error::invalid_field(
            "credential",
            format!("is over {MAX_TOKEN_BYTES} bytes"),
        ));
    }
    let bare = match credential.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => credential.trim(),
    };
    if bare.is_empty() {
        return Err(Error::invalid_field("credential", "is empty"));
    }
    Ok(Resolve::Credential(bare.to_owned()))
}
