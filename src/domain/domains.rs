//! Custom domains of a tenant: adding, listing, removing and verifying them.

use uuid::Uuid;

use super::audit::{AuditRecord, Origin};
use super::context::TenantScope;
use super::custom_domain::{CustomDomain, DomainState};
use super::ids::DomainName;
use super::paging;
use super::tenant::{Tenant, TenantState};
use super::tenants::{Tenants, now, snapshot};
use super::validate;
use super::verification::TxtAnswer;
use crate::error::{Error, Result};

impl Tenants {
    /// Adds `hostname` (validated) to the tenant, PENDING verification.
    pub async fn create_domain(
        &self,
        scope: &TenantScope,
        origin: &Origin,
        hostname: String,
    ) -> Result<CustomDomain> {
        if let Some(base) = &self.settings.base_domain
            && (hostname == *base || hostname.ends_with(&format!(".{base}")))
        {
            return Err(Error::invalid_field(
                "domain.hostname",
                format!(
                    "is under the base domain {base}, where tenants are already reached by slug"
                ),
            ));
        }
        let tenant = self.live_tenant(scope, "add a domain to").await?;
        let now = now();
        let domain = CustomDomain {
            id: Uuid::now_v7(),
            tenant_id: tenant.id,
            hostname,
            state: DomainState::Pending,
            verification_token: Uuid::new_v4().simple().to_string(),
            create_time: now,
            verify_time: None,
        };
        let audit = AuditRecord::new(
            origin,
            "CreateDomain",
            tenant.id,
            domain.resource_name(),
            None,
            Some(snapshot(&domain)?),
        );
        self.store
            .insert_domain(scope.into(), &domain, audit)
            .await?;
        Ok(domain)
    }

    /// A page of the tenant's domains by hostname, and the next token.
    pub async fn list_domains(
        &self,
        scope: &TenantScope,
        page_size: u64,
        page_token: &str,
    ) -> Result<(Vec<CustomDomain>, String)> {
        let tenant = self.get(scope).await?;
        let tenant_name = tenant.id.resource_name();
        let fingerprint = paging::query_fingerprint(&[&tenant_name]);
        let after = paging::decode_token(page_token, &fingerprint, "page_token")?;
        let rows = self
            .store
            .list_domains(scope.into(), tenant.id, after.as_deref(), page_size + 1)
            .await?;
        Ok(paging::cut_page(rows, page_size, &fingerprint, |domain| {
            domain.hostname.clone()
        }))
    }

    /// Removes a domain from its tenant.
    pub async fn delete_domain(
        &self,
        scope: &TenantScope,
        origin: &Origin,
        name: &DomainName,
    ) -> Result<()> {
        let domain = self.find_domain(scope, name).await?;
        let audit = AuditRecord::new(
            origin,
            "DeleteDomain",
            domain.tenant_id,
            domain.resource_name(),
            Some(snapshot(&domain)?),
            None,
        );
        if !self
            .store
            .delete_domain(scope.into(), &domain, audit)
            .await?
        {
            return Err(domain_not_found(name));
        }
        Ok(())
    }

    /// Checks the domain's TXT record and marks it VERIFIED when it holds the
    /// expected value. A verified domain is returned as it is.
    pub async fn verify_domain(
        &self,
        scope: &TenantScope,
        origin: &Origin,
        name: &DomainName,
    ) -> Result<CustomDomain> {
        let domain = self.find_domain(scope, name).await?;
        if domain.state == DomainState::Verified {
            return Ok(domain);
        }
        let record_name = domain.challenge_record_name();
        let expected = domain.challenge_record_value();
        let found = match self.resolver.lookup_txt(&record_name).await? {
            TxtAnswer::Records(records) if records.contains(&expected) => None,
            TxtAnswer::Records(records) => Some(format!("found {records:?} instead")),
            TxtAnswer::NoRecords => Some("found no TXT record".to_owned()),
        };
        if let Some(found) = found {
            return Err(Error::failed_precondition(
                "DOMAIN_NOT_VERIFIED",
                "DNS_TXT_RECORD",
                record_name.clone(),
                format!("expected a TXT record {record_name} with value {expected:?}; {found}"),
            ));
        }
        let mut verified = domain.clone();
        verified.state = DomainState::Verified;
        verified.verify_time = Some(now());
        let audit = AuditRecord::new(
            origin,
            "VerifyDomain",
            domain.tenant_id,
            domain.resource_name(),
            Some(snapshot(&domain)?),
            Some(snapshot(&verified)?),
        );
        if !self
            .store
            .mark_domain_verified(scope.into(), &verified, audit)
            .await?
        {
            // Removed or verified by a concurrent call: report what is there now.
            return self.find_domain(scope, name).await;
        }
        Ok(verified)
    }

    async fn find_domain(&self, scope: &TenantScope, name: &DomainName) -> Result<CustomDomain> {
        let tenant = self.get(scope).await?;
        let hostname = validate::hostname(&name.hostname, "name")
            .map_err(|violation| Error::InvalidArgument(vec![violation]))?;
        self.store
            .find_domain(scope.into(), tenant.id, &hostname)
            .await?
            .ok_or_else(|| domain_not_found(name))
    }

    /// The tenant, refused when it is deleted.
    pub(super) async fn live_tenant(&self, scope: &TenantScope, action: &str) -> Result<Tenant> {
        let tenant = self.get(scope).await?;
        if tenant.state == TenantState::Deleted {
            return Err(Error::failed_precondition(
                "TENANT_DELETED",
                "TENANT_STATE",
                tenant.id.resource_name(),
                format!(
                    "tenant {} is deleted; undelete it before you {action} it",
                    tenant.id.resource_name()
                ),
            ));
        }
        Ok(tenant)
    }
}

fn domain_not_found(name: &DomainName) -> Error {
    Error::NotFound {
        kind: "domain",
        name: format!("{}/domains/{}", name.tenant.display_name(), name.hostname),
    }
}
