//! Resolution of the tenant a request is for, from a host name, an id or a
//! slug. Deleted and unknown tenants are answered alike, NOT_FOUND, so a
//! caller learns nothing about tenants it cannot use.

use super::custom_domain::DomainState;
use super::ids::{TenantId, TenantRef};
use super::tenant::{Tenant, TenantState};
use super::tenants::Tenants;
use super::validate;
use crate::error::{Error, Result};

/// What to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveTarget {
    /// A host as in `:authority`, possibly with a port.
    Host(String),
    /// A tenant id.
    TenantId(TenantId),
    /// A slug.
    Slug(String),
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

impl Tenants {
    /// The live tenant `target` names, and how it was found.
    pub async fn resolve(&self, target: &ResolveTarget) -> Result<(Tenant, ResolvedBy)> {
        let (found, by) = match target {
            ResolveTarget::TenantId(id) => (
                self.store.find_tenant(&TenantRef::Id(*id)).await?,
                ResolvedBy::TenantId,
            ),
            ResolveTarget::Slug(slug) => (
                self.store
                    .find_tenant(&TenantRef::Slug(slug.clone()))
                    .await?,
                ResolvedBy::Slug,
            ),
            ResolveTarget::Host(authority) => self.resolve_host(authority).await?,
        };
        match found {
            Some(tenant) if tenant.state != TenantState::Deleted => Ok((tenant, by)),
            _ => Err(Error::NotFound {
                kind: "tenant",
                name: describe(target),
            }),
        }
    }

    async fn resolve_host(&self, authority: &str) -> Result<(Option<Tenant>, ResolvedBy)> {
        let host = host_without_port(authority);
        let Ok(hostname) = validate::hostname(host, "host") else {
            return Ok((None, ResolvedBy::CustomDomain));
        };
        if let Some(domain) = self.store.find_domain_by_hostname(&hostname).await?
            && domain.state == DomainState::Verified
        {
            let tenant = self
                .store
                .find_tenant(&TenantRef::Id(domain.tenant_id))
                .await?;
            return Ok((tenant, ResolvedBy::CustomDomain));
        }
        let slug = self.settings.base_domain.as_ref().and_then(|base| {
            hostname
                .strip_suffix(base.as_str())
                .and_then(|prefix| prefix.strip_suffix('.'))
                .filter(|label| !label.contains('.'))
        });
        let Some(slug) = slug else {
            return Ok((None, ResolvedBy::CustomDomain));
        };
        let tenant = self
            .store
            .find_tenant(&TenantRef::Slug(slug.to_owned()))
            .await?;
        Ok((tenant, ResolvedBy::Subdomain))
    }
}

fn describe(target: &ResolveTarget) -> String {
    match target {
        ResolveTarget::Host(host) => format!("host {host}"),
        ResolveTarget::TenantId(id) => id.resource_name(),
        ResolveTarget::Slug(slug) => format!("tenants/slug:{slug}"),
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
