//! The directory's reads for resolution (the access room's gate):
//! a tenant by id or slug whatever its state, the tenant holding a
//! verified custom domain, and the base domain tenants are reached under.
//! Unknown and deleted tenants are `None` here; what to answer for them
//! is the resolver's choice.

use crate::common::ids::{TenantId, TenantRef};
use crate::error::Result;
use crate::store::scope::Scope;
use crate::tenancy::tenant::Tenant;
use crate::tenancy::tenants::Tenants;

impl Tenants {
    /// The tenant `by` names, whatever its state, read in `scope`.
    pub(crate) async fn lookup(&self, scope: Scope, by: &TenantRef) -> Result<Option<Tenant>> {
        self.store.find_tenant(scope, by).await
    }

    /// The tenant holding the VERIFIED custom domain `hostname`, read in
    /// `scope` (the platform's: a host may be any tenant's).
    pub(crate) async fn verified_domain_owner(
        &self,
        scope: Scope,
        hostname: &str,
    ) -> Result<Option<TenantId>> {
        let domain = self.store.find_verified_domain(scope, hostname).await?;
        Ok(domain.map(|domain| domain.tenant_id))
    }

    /// Tenants are reached at `{slug}.{base domain}` when it is set.
    pub(crate) fn base_domain(&self) -> Option<&str> {
        self.settings.base_domain.as_deref()
    }
}
