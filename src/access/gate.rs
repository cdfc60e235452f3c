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
//!    is looked at;
//! 2. a tenant key's own tenant: deleted → NOT_FOUND, suspended →
//!    PERMISSION_DENIED `TENANT_SUSPENDED`, so a suspended tenant's keys
//!    stop everywhere at once;
//! 3. the method × caller matrix ([`crate::access::methods`]) → PERMISSION_DENIED;
//! 4. the tenant named by metadata: a tenant key naming another tenant is
//!    refused without any lookup, so it learns nothing about that tenant;
//!    admin and service callers get the named tenant resolved and (service
//!    callers) its status checked.

use std::sync::Arc;

use crate::access::api_keys::ApiKeys;
use crate::access::authorize::{authorize, check_usable, mismatch};
use crate::access::cache::GateCache;
use crate::access::caller::{Caller, ResolvedTenant, TenantContext, TenantScope};
use crate::access::key_uses::KeyUses;
use crate::access::methods as access;
use crate::access::methods::{MethodAccess, Target};
use crate::access::named_tokens::NamedToken;
use crate::access::resolve::{ResolveTarget, ResolvedBy, locate, not_found};
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
    /// The address the request came from, when known: Envoy's downstream
    /// address for ext_authz (`attributes.source.address`).
    pub source_address: Option<std::net::IpAddr>,
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
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                tenants,
                keys,
                admin_tokens: admin_tokens.iter().map(Token::from_config).collect(),
                service_tokens: service_tokens.iter().map(Token::from_config).collect(),
                cache: GateCache::new(cache_ttl),
                key_uses: KeyUses::default(),
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
        let caller = self.authenticate(call.authorization).await?;
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
            Caller::Tenant { tenant_id, .. } => {
                let own = self.usable_tenant(&TenantRef::Id(*tenant_id)).await?;
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
        let target = match by {
            TenantRef::Id(id) => ResolveTarget::TenantId(*id),
            TenantRef::Slug(slug) => ResolveTarget::Slug(slug.clone()),
        };
        let (tenant, _) = self.resolve(&target).await?;
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

    /// The scope of the tenant a request body names, for the caller in
    /// `context`: a tenant key gets only its own tenant, a tenant named in
    /// the metadata must be the one the body names, and service callers
    /// reach only usable tenants. Operators reach every tenant.
    pub async fn scope_for(&self, context: &TenantContext, by: &TenantRef) -> Result<TenantScope> {
        if let Some(named) = &context.tenant {
            let same = match by {
                TenantRef::Id(id) => *id == named.id,
                TenantRef::Slug(slug) => *slug == named.slug,
            };
            return if same {
                Ok(TenantScope::new(named.id))
            } else {
                Err(mismatch())
            };
        }
        match &context.caller {
            // The layer always resolves a tenant key's own tenant.
            Caller::Tenant { .. } => Err(mismatch()),
            Caller::Service { .. } => Ok(TenantScope::new(self.usable_tenant(by).await?.id)),
            Caller::Admin { .. } => match by {
                TenantRef::Id(id) => Ok(TenantScope::new(*id)),
                TenantRef::Slug(slug) => {
                    let target = ResolveTarget::Slug(slug.clone());
                    match self.locate(&target).await? {
                        Some((id, _)) => Ok(TenantScope::new(id)),
                        None => Err(Error::NotFound {
                            kind: "tenant",
                            name: by.display_name(),
                        }),
                    }
                }
            },
        }
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
