//! The gate every call passes: who calls (authentication), for which
//! tenant (resolution), and whether that caller may call this method for
//! that tenant (authorization). The tenant context layer asks
//! [`Gate::admit`]; handlers ask [`Gate::scope_for`] for the tenant a
//! request body names.
//!
//! Order of the checks, and why:
//! 0. the metadata itself (read by the layer): `authorization`,
//!    `x-tenant-id` or `x-tenant-slug` sent twice is refused
//!    (UNAUTHENTICATED `CREDENTIALS_AMBIGUOUS`, INVALID_ARGUMENT), never
//!    resolved by order;
//! 1. credentials: none or unknown → UNAUTHENTICATED, before anything else
//!    is looked at; without `authorization`, a client certificate mapped to
//!    a service (mutual TLS) is that service;
//! 2. a tenant key's own tenant: deleted → NOT_FOUND, suspended →
//!    PERMISSION_DENIED `TENANT_SUSPENDED`, so a suspended tenant's keys
//!    stop everywhere at once; a call from outside the tenant's allowed
//!    source ranges → PERMISSION_DENIED `SOURCE_ADDRESS_NOT_ALLOWED`;
//! 3. the method × caller matrix ([`crate::access::methods`]) → PERMISSION_DENIED;
//! 4. the tenant named by metadata: a tenant key naming another tenant is
//!    refused without any lookup, so it learns nothing about that tenant;
//!    admin and service callers get the named tenant resolved and (service
//!    callers) its status checked.

mod credential;
mod scope;
mod sources;
mod streams;
mod user;

use std::sync::Arc;

use crate::access::api_key::ApiKey;
use crate::access::api_keys::ApiKeys;
use crate::access::authorize::{authorize, check_usable, mismatch};
use crate::access::cache::GateCache;
use crate::access::caller::{Caller, ResolvedTenant, TenantContext};
use crate::access::jwt::Issuers;
use crate::access::key_uses::KeyUses;
use crate::access::methods as access;
use crate::access::methods::{MethodAccess, Target};
use crate::access::named_tokens::NamedToken;
use crate::access::resolve::{ResolveTarget, ResolvedBy, locate, not_found};
use crate::access::source::TrustedProxies;
use crate::access::tokens::Token;
use crate::common::ids::{TenantId, TenantRef};
use crate::error::{Error, Result};
use crate::store::changefeed::Change;
use crate::store::scope::Scope;
use crate::tenancy::Tenants;
use crate::tenancy::{Tenant, TenantState};

mod authenticate;

/// What the gate reads from a call's metadata.
#[derive(Debug, Clone, Copy, Default)]
pub struct Call<'a> {
    /// The `authorization` header.
    pub authorization: Option<&'a str>,
    /// The `x-tenant-id` header.
    pub tenant_id: Option<&'a str>,
    /// The `x-tenant-slug` header.
    pub tenant_slug: Option<&'a str>,
    /// The `:authority` (or `host`) of the request.
    pub authority: Option<&'a str>,
    /// The call's request id.
    pub request_id: &'a str,
    /// The connection's peer address, when known; for ext_authz, Envoy's
    /// downstream address (`attributes.source.address`).
    pub peer: Option<std::net::IpAddr>,
    /// The call's headers, for `x-forwarded-for` behind trusted proxies.
    pub headers: Option<&'a http::HeaderMap>,
    /// The service the connection's verified client certificate maps to:
    /// the caller when no `authorization` is sent (one sent wins).
    pub peer_service: Option<&'a Arc<str>>,
}

/// The gate; cloning it (once per call, by the layer) is one reference
/// count.
#[derive(Clone)]
pub struct Gate {
    /// Everything, shared.
    inner: Arc<Inner>,
}

/// What the gate holds.
struct Inner {
    /// Where tenants and domains are read.
    tenants: Tenants,
    /// Where keys are read, and their uses written.
    keys: ApiKeys,
    /// Operator tokens.
    admin_tokens: Vec<Token>,
    /// Service tokens.
    service_tokens: Vec<Token>,
    /// Resolutions and keys, dropped on change.
    cache: GateCache,
    /// Key uses waiting to be written.
    key_uses: KeyUses,
    /// Whose `x-forwarded-for` is believed.
    trusted_proxies: TrustedProxies,
    /// The issuers of end users' JWTs.
    issuers: Issuers,
}

/// The `x-tenant-id` header.
pub const TENANT_ID_HEADER: &str = "x-tenant-id";
/// The `x-tenant-slug` header.
pub const TENANT_SLUG_HEADER: &str = "x-tenant-slug";

impl Gate {
    /// A gate over `tenants` and their `keys`, accepting the configured
    /// tokens.
    pub fn new(
        tenants: Tenants,
        keys: ApiKeys,
        admin_tokens: &[NamedToken],
        service_tokens: &[NamedToken],
        cache_ttl: std::time::Duration,
        trusted_proxies: TrustedProxies,
        issuers: Issuers,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                tenants,
                keys,
                admin_tokens: admin_tokens.iter().map(Token::from_config).collect(),
                service_tokens: service_tokens.iter().map(Token::from_config).collect(),
                cache: GateCache::new(cache_ttl),
                key_uses: KeyUses::default(),
                trusted_proxies,
                issuers,
            }),
        }
    }

    /// Drops cached answers `change` may have made wrong.
    pub fn invalidate(&self, change: Change) {
        self.inner.cache.invalidate(change);
    }

    /// Writes the key uses recorded since the last flush.
    pub async fn flush_key_uses(&self) {
        self.inner.key_uses.flush(&self.inner.keys).await;
    }

    /// Admits a call of `path` or refuses it; see the module docs.
    pub async fn admit(&self, path: &str, call: &Call<'_>) -> Result<TenantContext> {
        let caller = match (call.authorization, call.peer_service) {
            (None, Some(name)) => Caller::Service {
                name: Arc::clone(name),
            },
            (authorization, _) => self.authenticate(authorization).await?,
        };
        // Every served method has a rule (a test checks the table against
        // the descriptor set), so a path without one is not served.
        let rule = access::method_access(path).ok_or_else(|| Error::Unimplemented {
            message: format!("tenantd serves no method {path}"),
        })?;
        self.admit_caller(caller, rule, call).await
    }

    /// Admits a request under `rule` rather than a gRPC method's: the HTTP
    /// requests a gateway asks about (Envoy's ext_authz), with the same
    /// checks in the same order.
    pub async fn admit_under(&self, rule: &MethodAccess, call: &Call<'_>) -> Result<TenantContext> {
        let caller = self.authenticate(call.authorization).await?;
        self.admit_caller(caller, rule, call).await
    }

    async fn admit_caller(
        &self,
        caller: Caller,
        rule: &MethodAccess,
        call: &Call<'_>,
    ) -> Result<TenantContext> {
        let tenant = match &caller {
            Caller::Tenant { tenant_id, .. } | Caller::User { tenant_id, .. } => {
                let own = self.usable_tenant(&TenantRef::Id(*tenant_id)).await?;
                self.check_source(&own, call)?;
                authorize(&caller, rule)?;
                check_named_tenant_is(&own, call)?;
                Some(own)
            }
            Caller::Admin { .. } | Caller::Service { .. } => {
                authorize(&caller, rule)?;
                match rule.target {
                    Target::Tenant => self.named_tenant(&caller, call).await?,
                    Target::Platform => None,
                }
            }
        };
        let tenant = tenant.map(|tenant| ResolvedTenant {
            id: tenant.id,
            slug: tenant.slug.clone(),
            state: tenant.state,
            plan: tenant.plan.clone(),
        });
        Ok(TenantContext::new(
            caller,
            tenant,
            call.request_id.to_owned(),
        ))
    }

    /// The tenant `id`, whatever its state, through the cache (shared, not
    /// copied).
    async fn tenant_by_id(&self, id: TenantId) -> Result<Option<Arc<Tenant>>> {
        let tenants = &self.inner.tenants;
        self.inner
            .cache
            .tenants
            .through(&id, async || {
                let found = tenants
                    .lookup(Scope::Tenant(id), &TenantRef::Id(id))
                    .await?;
                Ok(found.map(Arc::new))
            })
            .await
    }

    /// The live tenant `target` names and how it was found, through the
    /// cache; deleted and unknown tenants are NOT_FOUND alike.
    pub async fn resolve(&self, target: &ResolveTarget) -> Result<(Arc<Tenant>, ResolvedBy)> {
        self.find_live(target)
            .await?
            .ok_or_else(|| not_found(target))
    }

    /// Which tenant `target` names, live or deleted, through the cache.
    async fn locate(&self, target: &ResolveTarget) -> Result<Option<(TenantId, ResolvedBy)>> {
        let tenants = &self.inner.tenants;
        // An id names its tenant without a read: a cached answer would
        // only cost a map lookup on every call that sends one.
        if matches!(target, ResolveTarget::TenantId(_)) {
            return locate(tenants, target).await;
        }
        self.inner
            .cache
            .targets
            .through(target, async || locate(tenants, target).await)
            .await
    }

    /// The tenant `target` names, live or deleted, and how it was found,
    /// through the cache; `None` for unknown tenants.
    async fn find(&self, target: &ResolveTarget) -> Result<Option<(Arc<Tenant>, ResolvedBy)>> {
        let Some((id, by)) = self.locate(target).await? else {
            return Ok(None);
        };
        Ok(self.tenant_by_id(id).await?.map(|tenant| (tenant, by)))
    }

    /// As [`Self::resolve`], with `None` for deleted and unknown tenants:
    /// a call naming tenantd's own host, on every request, builds no error.
    async fn find_live(&self, target: &ResolveTarget) -> Result<Option<(Arc<Tenant>, ResolvedBy)>> {
        let found = self.find(target).await?;
        Ok(found.filter(|(tenant, _)| tenant.state != TenantState::Deleted))
    }

    /// The tenant `by` names, if a service or tenant may use it now.
    async fn usable_tenant(&self, by: &TenantRef) -> Result<Arc<Tenant>> {
        let (tenant, _) = self.resolve(&ResolveTarget::from(by)).await?;
        check_usable(&tenant)?;
        Ok(tenant)
    }

    /// For admin and service callers: the tenant the metadata names, by
    /// `x-tenant-id`, `x-tenant-slug`, then `:authority`; `None` when it
    /// names none (the request body may).
    async fn named_tenant(&self, caller: &Caller, call: &Call<'_>) -> Result<Option<Arc<Tenant>>> {
        let target = if let Some(id) = call.tenant_id {
            ResolveTarget::TenantId(TenantId::parse(id, TENANT_ID_HEADER)?)
        } else if let Some(slug) = call.tenant_slug {
            ResolveTarget::Slug(slug.to_owned())
        } else if let Some(authority) = call.authority {
            let host = ResolveTarget::Host(authority.to_ascii_lowercase());
            // tenantd's own host names no tenant.
            return match self.find_live(&host).await? {
                Some((tenant, _)) => self.admit_tenant(caller, tenant).map(Some),
                None => Ok(None),
            };
        } else {
            return Ok(None);
        };
        // Operators may act on deleted tenants (to undelete them); the one
        // lookup serves both answers.
        let operator = matches!(caller, Caller::Admin { .. });
        let tenant = self
            .find(&target)
            .await?
            .map(|(tenant, _)| tenant)
            .filter(|tenant| operator || tenant.state != TenantState::Deleted)
            .ok_or_else(|| not_found(&target))?;
        self.admit_tenant(caller, tenant).map(Some)
    }

    fn admit_tenant(&self, caller: &Caller, tenant: Arc<Tenant>) -> Result<Arc<Tenant>> {
        if matches!(caller, Caller::Service { .. }) {
            check_usable(&tenant)?;
        }
        Ok(tenant)
    }
}

/// The caller a verified key is.
fn key_caller(key: &ApiKey) -> Caller {
    Caller::Tenant {
        tenant_id: key.tenant_id,
        key_id: key.id,
        prefix: key.prefix.clone(),
        scopes: key.scopes.clone(),
    }
}

/// A tenant key may name only its own tenant in the metadata.
fn check_named_tenant_is(own: &Tenant, call: &Call<'_>) -> Result<()> {
    if let Some(id) = call.tenant_id
        && TenantId::parse(id, TENANT_ID_HEADER).ok() != Some(own.id)
    {
        return Err(mismatch());
    }
    if let Some(slug) = call.tenant_slug
        && slug != own.slug
    {
        return Err(mismatch());
    }
    Ok(())
}
