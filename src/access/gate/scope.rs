//! The scope of the tenant a request body names, checked against what
//! the gate admitted the call for.

use crate::access::authorize::mismatch;
use crate::access::caller::{Caller, TenantContext, TenantScope};
use crate::access::gate::Gate;
use crate::access::resolve::ResolveTarget;
use crate::common::ids::TenantRef;
use crate::error::{Error, Result};

impl Gate {
    /// The scope of the tenant a request body names, for the caller in
    /// `context`: a tenant key gets only its own tenant, a tenant named in
    /// the metadata must be the one the body names, and service callers
    /// reach only usable tenants. Operators reach every tenant.
    pub async fn scope_for(&self, context: &TenantContext, by: &TenantRef) -> Result<TenantScope> {
        if let Some(named) = &context.tenant {
            let same = match by {
                TenantRef::Id(id) => *id == named.id,
                TenantRef::Slug(slug) => *slug == named.slug,
                TenantRef::External(_) => {
                    let found = self.locate(&ResolveTarget::from(by)).await?;
                    found.is_some_and(|(id, _)| id == named.id)
                }
            };
            return if same {
                Ok(TenantScope::new(named.id))
            } else {
                Err(mismatch())
            };
        }
        match &context.caller {
            // The layer always resolves a tenant key's own tenant.
            Caller::Tenant { .. } | Caller::User { .. } => Err(mismatch()),
            Caller::Service { .. } => Ok(TenantScope::new(self.usable_tenant(by).await?.id)),
            Caller::Admin { .. } => match by {
                TenantRef::Id(id) => Ok(TenantScope::new(*id)),
                TenantRef::Slug(_) | TenantRef::External(_) => {
                    match self.locate(&ResolveTarget::from(by)).await? {
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
