//! Custom domains of a tenant: adding, listing, removing and verifying them.
//!
//! Claims are contested (see [`crate::tenancy::custom_domain`]): adding a hostname
//! another tenant holds PENDING is allowed, so the tenant that controls it
//! can get its own challenge; verifying it releases every rival claim in
//! the same transaction, audited on each rival's tenant as
//! `ReleaseDomain`. A hostname VERIFIED by one tenant cannot be added by
//! another. An expired claim can no longer be verified; adding the
//! hostname again renews it with a fresh challenge, and the tenant jobs
//! remove expired claims (audited as `ExpireDomain`).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::access::{PlatformScope, TenantScope};
use crate::common::ids::{DomainName, TenantId};
use crate::common::validate;
use crate::error::{Error, Result};
use crate::store::audit::{AuditRecord, Origin};
use crate::store::revision::Audited;
use crate::store::scope::Scope;
use crate::tenancy::custom_domain::{CustomDomain, DomainState};
use crate::tenancy::provision::system_origin;
use crate::tenancy::tenant::Tenant;
use crate::tenancy::tenants::{Tenants, now, snapshot};
use crate::tenancy::verification::TxtAnswer;

/// The most rival claims one verification releases: the rest stay PENDING
/// and can no longer be verified, as the hostname is taken.
const MAX_RELEASED_CLAIMS: u64 = 1000;

// A domain's writes are audited on its tenant's trail.
crate::store::revision::tenant_audited!(CustomDomain, snapshot, tenant_id);

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
        let held = self.claimable(scope, tenant.id, &hostname, now).await?;
        let domain = CustomDomain {
            id: Uuid::now_v7(),
            tenant_id: tenant.id,
            hostname,
            state: DomainState::Pending,
            verification_token: Uuid::new_v4().simple().to_string(),
            create_time: now,
            verify_time: None,
            expire_time: None,
        }
        .with_claim_ttl(self.settings.domain_claim_ttl);
        let audit = domain.audit(origin, "CreateDomain", held.as_ref())?;
        match held {
            // An expired claim is renewed: a fresh challenge, a fresh expiry.
            Some(expired) => {
                if !self
                    .store
                    .renew_domain_claim(scope.into(), &expired, &domain, audit)
                    .await?
                {
                    return Err(domain_exists("the tenant's claim changed meanwhile"));
                }
            }
            None => {
                self.store
                    .insert_domain(scope.into(), &domain, audit)
                    .await?;
            }
        }
        Ok(domain)
    }

    /// Whether the tenant may claim `hostname` at `now`: refused when it
    /// holds a live claim on it or another tenant verified it; its expired
    /// claim, to renew, if it has one.
    async fn claimable(
        &self,
        scope: &TenantScope,
        tenant_id: TenantId,
        hostname: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<CustomDomain>> {
        let held = self
            .store
            .find_domain(scope.into(), tenant_id, hostname)
            .await?
            .map(|domain| domain.with_claim_ttl(self.settings.domain_claim_ttl));
        if held
            .as_ref()
            .is_some_and(|domain| !domain.claim_expired(now))
        {
            return Err(domain_exists("the tenant already has this hostname"));
        }
        if let Some(verified) = self
            .store
            .find_verified_domain(Scope::from(&PlatformScope::system()), hostname)
            .await?
            && verified.tenant_id != tenant_id
        {
            return Err(domain_exists("this hostname is verified by another tenant"));
        }
        Ok(held)
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
        let ttl = self.settings.domain_claim_ttl;
        let list = async |after: Option<String>, limit| {
            let rows = self
                .store
                .list_domains(scope.into(), tenant.id, after.as_deref(), limit)
                .await?;
            Ok(rows
                .into_iter()
                .map(|domain| domain.with_claim_ttl(ttl))
                .collect())
        };
        let key_of = |domain: &CustomDomain| domain.hostname.clone();
        self.store
            .page_tokens()
            .page(&[&tenant_name], page_size, page_token, list, key_of)
            .await
    }

    /// Removes a domain from its tenant.
    pub async fn delete_domain(
        &self,
        scope: &TenantScope,
        origin: &Origin,
        name: &DomainName,
    ) -> Result<()> {
        let domain = self.find_domain(scope, name).await?;
        let audit = domain.removal(origin, "DeleteDomain")?;
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
        if let Some(expired) = domain.expire_time.filter(|_| domain.claim_expired(now())) {
            return Err(Error::failed_precondition(
                "DOMAIN_CLAIM_EXPIRED",
                "DOMAIN_CLAIM",
                domain.resource_name(),
                format!(
                    "the claim expired at {}; add the domain again for a new challenge",
                    expired.to_rfc3339()
                ),
            ));
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
        verified.expire_time = None;
        let audit = verified.audit(origin, "VerifyDomain", Some(&domain))?;
        let released = self.rival_releases(&domain, origin).await?;
        if !self
            .store
            .mark_domain_verified(scope.into(), &verified, audit, released)
            .await?
        {
            // Removed or verified by a concurrent call: report what is there now.
            return self.find_domain(scope, name).await;
        }
        Ok(verified)
    }

    /// Other tenants' PENDING claims on `domain`'s hostname, each with the
    /// audit record of its release on its own tenant. tenantd releases them,
    /// not the winning caller, whom the losers' trail does not name.
    async fn rival_releases(
        &self,
        domain: &CustomDomain,
        origin: &Origin,
    ) -> Result<Vec<(CustomDomain, AuditRecord)>> {
        let rivals = self
            .store
            .find_rival_claims(
                Scope::from(&PlatformScope::system()),
                &domain.hostname,
                domain.tenant_id,
                MAX_RELEASED_CLAIMS,
            )
            .await?;
        let releaser = Origin {
            request_id: origin.request_id.clone(),
            ..system_origin()
        };
        with_release_records(rivals, &releaser, "ReleaseDomain")
    }

    /// Removes PENDING claims past their expiry, at most
    /// [`MAX_RELEASED_CLAIMS`] a call, each audited on its own tenant as
    /// `ExpireDomain` by tenantd; how many were removed. Safe on several
    /// replicas at once: a claim another removed is skipped.
    pub async fn expire_domain_claims(&self, now: DateTime<Utc>) -> Result<u64> {
        let Some(made_before) = now.checked_sub_signed(self.settings.domain_claim_ttl) else {
            return Ok(0);
        };
        let expired = self
            .store
            .claims_made_before(
                Scope::from(&PlatformScope::system()),
                made_before,
                MAX_RELEASED_CLAIMS,
            )
            .await?;
        if expired.is_empty() {
            return Ok(0);
        }
        let released = with_release_records(expired, &system_origin(), "ExpireDomain")?;
        self.store.release_claims(released).await
    }

    async fn find_domain(&self, scope: &TenantScope, name: &DomainName) -> Result<CustomDomain> {
        let tenant = self.get(scope).await?;
        let hostname = validate::hostname(&name.hostname, "name")
            .map_err(|violation| Error::InvalidArgument(vec![violation]))?;
        self.store
            .find_domain(scope.into(), tenant.id, &hostname)
            .await?
            .map(|domain| domain.with_claim_ttl(self.settings.domain_claim_ttl))
            .ok_or_else(|| domain_not_found(name))
    }

    /// The tenant, refused when it is deleted.
    pub(crate) async fn live_tenant(&self, scope: &TenantScope, action: &str) -> Result<Tenant> {
        let tenant = self.get(scope).await?;
        tenant.refuse_if_deleted(action)?;
        Ok(tenant)
    }
}

/// Each claim with the audit record of its removal by `origin` as `action`.
fn with_release_records(
    claims: Vec<CustomDomain>,
    origin: &Origin,
    action: &'static str,
) -> Result<Vec<(CustomDomain, AuditRecord)>> {
    claims
        .into_iter()
        .map(|claim| {
            let audit = claim.removal(origin, action)?;
            Ok((claim, audit))
        })
        .collect()
}

/// The record of `action` removing `domain`, on the domain's tenant.
fn domain_exists(message: &str) -> Error {
    Error::AlreadyExists {
        reason: "DOMAIN_ALREADY_EXISTS",
        message: message.to_owned(),
    }
}

fn domain_not_found(name: &DomainName) -> Error {
    Error::NotFound {
        kind: "domain",
        name: format!("{}/domains/{}", name.tenant.display_name(), name.hostname),
    }
}
