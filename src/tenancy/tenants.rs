//! The tenant directory: creating, reading, listing and changing tenants.
//!
//! Every change is read → pure transition ([`Tenant`]'s methods) →
//! conditional write on the revision read, with its audit record in the same
//! transaction. A concurrent writer makes the write miss; the change is then
//! retried on the fresh tenant, or refused with ABORTED when the caller
//! pinned an etag.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::access::{PlatformScope, TenantScope};
use crate::common::filter;
use crate::common::ids::{TenantId, TenantRef, new_v7_at};
use crate::common::paging;
use crate::error::{Error, Result};
use crate::quota::Plan;
use crate::store::Store;
use crate::store::audit::AuditRecord;
use crate::store::audit::Origin;
use crate::store::idempotency::{Created, IdempotencyEntry};
use crate::store::revision::Audited;
use crate::store::scope::Scope;
use crate::tenancy::isolation::{self, IsolationModel};
use crate::tenancy::lifecycle::Transition;
use crate::tenancy::onboarding::Onboarding;
use crate::tenancy::progress::ProvisioningProgress;
use crate::tenancy::provisioning::Provisioner;
use crate::tenancy::tenant::{
    NewTenant, Tenant, TenantPatch, TenantQuery, TenantState, truncate_to_micros,
};
use crate::tenancy::verification::TxtResolver;

mod list_filter;

pub use list_filter::apply_tenant_filter;

/// How many times a change is retried when other writers keep winning.
const MAX_CHANGE_ATTEMPTS: usize = 5;

/// Operator-chosen behaviour of the directory.
#[derive(Debug, Clone)]
pub struct TenantSettings {
    /// How long a soft-deleted tenant is kept before it is purged.
    pub purge_after: chrono::Duration,
    /// Tenants are reached at `{slug}.{base_domain}` when set.
    pub base_domain: Option<String>,
    /// How long a PENDING domain claim may be verified.
    pub domain_claim_ttl: chrono::Duration,
}

/// The tenant directory; cheap to clone.
#[derive(Clone)]
pub struct Tenants {
    /// Where tenants are kept.
    pub(super) store: Store,
    /// Operator settings.
    pub(crate) settings: TenantSettings,
    /// Looks up domain-verification TXT records.
    pub(crate) resolver: Arc<dyn TxtResolver>,
    /// Makes SCHEMA tenants' schemas; `None` without schema support
    /// (SQLite), where every tenant is POOL.
    pub(crate) provisioner: Option<Provisioner>,
}

/// A create request after validation.
#[derive(Debug, Clone)]
pub struct CreateTenant {
    /// The tenant to create.
    pub tenant: NewTenant,
    /// Makes retries return the first result.
    pub request_id: Option<Uuid>,
    /// What the created event carries for onboarding services.
    pub onboarding: Onboarding,
}

/// A list request after validation of its page size.
#[derive(Debug, Clone)]
pub struct ListTenants {
    /// Rows on a page.
    pub page_size: u64,
    /// The previous page's token, or empty.
    pub page_token: String,
    /// AIP-160 filter text.
    pub filter: String,
    /// Include soft-deleted tenants.
    pub show_deleted: bool,
}

const CREATE_SCOPE: &str = "CreateTenant";

/// The current time at the precision storage keeps.
pub(crate) fn now() -> DateTime<Utc> {
    truncate_to_micros(Utc::now())
}

/// A JSON snapshot of a resource for the audit log.
pub(crate) fn snapshot(value: &impl serde::Serialize) -> Result<serde_json::Value> {
    serde_json::to_value(value).map_err(Error::internal)
}

/// A tenant's writes are audited as the tenant's own.
impl Audited for Tenant {
    fn resource_name(&self) -> String {
        self.id.resource_name()
    }

    fn snapshot(&self) -> Result<serde_json::Value> {
        snapshot(self)
    }

    fn tenant(&self) -> Option<TenantId> {
        Some(self.id)
    }
}

impl Tenants {
    /// A directory over `store`.
    pub fn new(store: Store, settings: TenantSettings, resolver: Arc<dyn TxtResolver>) -> Self {
        Self {
            store,
            settings,
            resolver,
            provisioner: None,
        }
    }

    /// The same directory, provisioning SCHEMA tenants with `provisioner`.
    pub fn with_provisioner(mut self, provisioner: Provisioner) -> Self {
        self.provisioner = Some(provisioner);
        self
    }

    /// Creates a tenant, or returns the one a previous call with the same
    /// request id created.
    pub async fn create(
        &self,
        platform: &PlatformScope,
        origin: &Origin,
        request: CreateTenant,
    ) -> Result<Tenant> {
        let new = request.tenant;
        let labels = snapshot(&new.labels)?.to_string();
        let chosen_id = new.id.map(|id| id.to_string()).unwrap_or_default();
        let asked_isolation = new
            .isolation
            .map(|model| model.as_str())
            .unwrap_or_default();
        let onboarding = request.onboarding;
        let onboarding_text = snapshot(&onboarding)?.to_string();
        let fingerprint = paging::query_fingerprint(&[
            &chosen_id,
            &new.slug,
            &new.display_name,
            &new.plan,
            &labels,
            asked_isolation,
            &onboarding_text,
        ]);
        let replay = async |name: &str| {
            let by = TenantRef::parse_name(name, "request_id")?;
            self.find(platform.into(), &by).await
        };
        let create = self.store.idempotent(
            platform.into(),
            CREATE_SCOPE,
            request.request_id,
            fingerprint,
        );
        let build = async || {
            let plan = self.check_plan_exists(&new.plan).await?;
            let isolation = isolation::choose(
                new.isolation,
                plan.default_isolation,
                self.provisioner.is_some(),
            )?;
            let now = now();
            let id = new
                .id
                .unwrap_or_else(|| TenantId::from_uuid(new_v7_at(now)));
            let mut tenant = Tenant::create(new, id, isolation, now);
            if let (IsolationModel::Schema, Some(provisioner)) = (isolation, &self.provisioner) {
                tenant.provisioning = Some(ProvisioningProgress::start(provisioner.total_steps()));
            }
            Ok(tenant)
        };
        // The created event carries the onboarding input; the tenant row
        // does not.
        let insert = async |store: &Store,
                            scope: Scope,
                            made: &Tenant,
                            entry: Option<&IdempotencyEntry>,
                            mut record: AuditRecord| {
            onboarding.attach(&mut record)?;
            store.insert_stored(scope, made, entry, record).await
        };
        match create.run(origin, build, insert, replay).await? {
            Created::Now(tenant) if tenant.state == TenantState::Provisioning => {
                self.provision(tenant.id, origin, true).await
            }
            created => Ok(created.into_inner()),
        }
    }

    /// The scope's tenant, including a soft-deleted one.
    pub async fn get(&self, scope: &TenantScope) -> Result<Tenant> {
        self.find(scope.into(), &TenantRef::Id(scope.tenant_id()))
            .await
    }

    /// The tenant named by id or slug, whatever its state, read in `scope`.
    pub(crate) async fn find(&self, scope: Scope, by: &TenantRef) -> Result<Tenant> {
        self.store
            .find_tenant(scope, by)
            .await?
            .ok_or_else(|| Error::NotFound {
                kind: "tenant",
                name: by.display_name(),
            })
    }

    /// A page of tenants in id order, and the token of the next page.
    pub async fn list(
        &self,
        platform: &PlatformScope,
        request: &ListTenants,
    ) -> Result<(Vec<Tenant>, String)> {
        // The filter's limits are checked before any other work.
        let comparisons = filter::parse(&request.filter, "filter")?;
        let show_deleted = request.show_deleted.to_string();
        let list = async |after: Option<String>, limit| {
            let after = after
                .map(|key| TenantId::parse(&key, "page_token"))
                .transpose()?;
            let mut query = TenantQuery {
                after,
                limit,
                show_deleted: request.show_deleted,
                ..TenantQuery::default()
            };
            for comparison in &comparisons {
                apply_tenant_filter(&mut query, comparison)?;
            }
            self.store.list_tenants(platform.into(), &query).await
        };
        let query = [request.filter.as_str(), &show_deleted];
        let key_of = |tenant: &Tenant| tenant.id.to_string();
        self.store
            .page_tokens()
            .page(&query, request.page_size, &request.page_token, list, key_of)
            .await
    }

    /// Applies `patch` to the tenant.
    pub async fn update(
        &self,
        scope: &TenantScope,
        origin: &Origin,
        etag: Option<&str>,
        patch: &TenantPatch,
    ) -> Result<Tenant> {
        if let Some(plan) = &patch.plan {
            self.check_plan_exists(plan).await?;
        }
        self.change(scope, origin, etag, "UpdateTenant", |tenant, now| {
            tenant.update(patch.clone(), now)
        })
        .await
    }

    /// Makes the lifecycle change `transition` while the tenant still has
    /// `etag` (when given). Activating a FAILED tenant retries its
    /// provisioning and answers the outcome.
    pub async fn transition(
        &self,
        scope: &TenantScope,
        origin: &Origin,
        etag: Option<&str>,
        transition: Transition<'_>,
    ) -> Result<Tenant> {
        let retention = self.settings.purge_after;
        let step = |tenant: &Tenant, now| match transition {
            Transition::Delete => tenant.delete(retention, now).map(Some),
            Transition::Undelete => tenant.undelete(now).map(Some),
            Transition::Suspend(reason) => tenant.suspend(reason, now),
            Transition::Activate => tenant.activate(now),
        };
        let tenant = self
            .change(scope, origin, etag, transition.action(), step)
            .await?;
        if matches!(transition, Transition::Activate) && tenant.state == TenantState::Provisioning {
            return self.provision(tenant.id, origin, true).await;
        }
        Ok(tenant)
    }

    /// A tenant may only be put on a plan of the catalogue, or its quota
    /// checks would all fail. Answers the plan.
    async fn check_plan_exists(&self, plan: &str) -> Result<Plan> {
        let catalogue = Scope::from(&crate::access::PlatformScope::system());
        if let Some(found) = self.store.find_stored::<Plan>(catalogue, plan).await? {
            return Ok(found);
        }
        Err(Error::failed_precondition(
            "PLAN_NOT_FOUND",
            "PLAN",
            format!("plans/{plan}"),
            format!("there is no plan {plan:?}; ListPlans shows the plans, CreatePlan adds one"),
        ))
    }

    /// Read, transition, conditional write; see the module docs.
    pub(crate) async fn change(
        &self,
        scope: &TenantScope,
        origin: &Origin,
        etag: Option<&str>,
        action: &'static str,
        transition: impl Fn(&Tenant, DateTime<Utc>) -> Result<Option<Tenant>>,
    ) -> Result<Tenant> {
        for _ in 0..MAX_CHANGE_ATTEMPTS {
            let current = self.get(scope).await?;
            current.check_etag(etag)?;
            let Some(next) = transition(&current, now())? else {
                return Ok(current);
            };
            let audit = next.audit(origin, action, Some(&current))?;
            if self
                .store
                .replace_tenant(scope.into(), current.revision, &next, audit)
                .await?
            {
                return Ok(next);
            }
        }
        Err(Error::concurrent_modification(
            "the tenant kept changing while this change was applied; retry",
        ))
    }
}
