//! Resolution of the tenant a request is for, from a host name, an id, a
//! slug or an external id: a verified custom domain first, then `{slug}.{base domain}`.
//! Deleted and unknown tenants are answered alike, NOT_FOUND, so a caller
//! learns nothing about tenants it cannot use. The gate caches both steps.

use crate::access::caller::PlatformScope;
use crate::common::ids::{TenantId, TenantRef};
use crate::common::validate;
use crate::error::{Error, Result};
use crate::store::scope::Scope;
use crate::tenancy::Tenants;

/// What to resolve.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ResolveTarget {
    /// A host as in `:authority`, possibly with a port.
    Host(String),
    /// A tenant id.
    TenantId(TenantId),
    /// A slug.
    Slug(String),
    /// An external id.
    ExternalId(String),
}

impl From<&TenantRef> for ResolveTarget {
    fn from(by: &TenantRef) -> Self {
        match by {
            TenantRef::Id(id) => Self::TenantId(*id),
            TenantRef::Slug(slug) => Self::Slug(slug.clone()),
            TenantRef::External(external_id) => Self::ExternalId(external_id.clone()),
        }
    }
}

/// How a tenant was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResolvedBy {
    /// A verified custom domain.
    CustomDomain,
    /// `{slug}.{base domain}`.
    Subdomain,
    /// Its id.
    TenantId,
    /// Its slug.
    Slug,
    /// Its external id.
    ExternalId,
}

/// Splits `host[:port]` or `[v6]:port` and normalises the host.
fn host_without_port(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|byte| byte.is_ascii_digit()) => host,
        _ => authority,
    }
}

/// Which tenant `target` names, and how, without reading the tenant
/// itself: the gate caches this answer and the tenant separately.
/// Resolution reads across tenants, in the platform scope: finding which
/// tenant a host or slug belongs to is what it is for.
pub(crate) async fn locate(
    tenants: &Tenants,
    target: &ResolveTarget,
) -> Result<Option<(TenantId, ResolvedBy)>> {
    let platform = Scope::from(&PlatformScope::system());
    match target {
        ResolveTarget::TenantId(id) => Ok(Some((*id, ResolvedBy::TenantId))),
        ResolveTarget::Slug(slug) => {
            let by = TenantRef::Slug(slug.clone());
            let found = tenants.lookup(platform, &by).await?;
            Ok(found.map(|tenant| (tenant.id, ResolvedBy::Slug)))
        }
        ResolveTarget::ExternalId(external_id) => {
            let by = TenantRef::External(external_id.clone());
            let found = tenants.lookup(platform, &by).await?;
            Ok(found.map(|tenant| (tenant.id, ResolvedBy::ExternalId)))
        }
        ResolveTarget::Host(authority) => locate_host(tenants, platform, authority).await,
    }
}

/// A verified custom domain first, then `{slug}.{base domain}`.
async fn locate_host(
    tenants: &Tenants,
    platform: Scope,
    authority: &str,
) -> Result<Option<(TenantId, ResolvedBy)>> {
    let host = host_without_port(authority);
    let Ok(hostname) = validate::hostname(host, "host") else {
        return Ok(None);
    };
    let owner = tenants.verified_domain_owner(platform.clone(), &hostname);
    if let Some(tenant_id) = owner.await? {
        return Ok(Some((tenant_id, ResolvedBy::CustomDomain)));
    }
    let slug = tenants.base_domain().and_then(|base| {
        hostname
            .strip_suffix(base)
            .and_then(|prefix| prefix.strip_suffix('.'))
            .filter(|label| !label.contains('.'))
    });
    let Some(slug) = slug else {
        return Ok(None);
    };
    let found = tenants
        .lookup(platform, &TenantRef::Slug(slug.to_owned()))
        .await?;
    Ok(found.map(|tenant| (tenant.id, ResolvedBy::Subdomain)))
}

/// The answer for a target that names no live tenant.
pub(crate) fn not_found(target: &ResolveTarget) -> Error {
    Error::NotFound {
        kind: "tenant",
        name: describe(target),
    }
}

fn describe(target: &ResolveTarget) -> String {
    match target {
        ResolveTarget::Host(host) => format!("host {host}"),
        ResolveTarget::TenantId(id) => id.resource_name(),
        ResolveTarget::Slug(slug) => format!("tenants/slug:{slug}"),
        ResolveTarget::ExternalId(external_id) => format!("tenants/external:{external_id}"),
    }
}

#[cfg(test)]
mod tests {
    use super::host_without_port;

    #[test]
    fn ports_are_stripped_from_authorities() {
        assert_eq!(
            host_without_port("acme.example.com:443"),
            "acme.example.com"
        );
        assert_eq!(host_without_port("acme.example.com"), "acme.example.com");
        assert_eq!(host_without_port("[::1]:50051"), "::1");
    }
}
