//! The plan catalogue: create, read, list and update plans, audited.
//!
//! Plans are global (no tenant rows): operators change them through a
//! [`PlatformScope`]; any scope may read them, since every tenant's quota
//! check reads its plan.

use uuid::Uuid;

use crate::access::PlatformScope;
use crate::common::paging;
use crate::error::{Error, FieldViolation, Result};
use crate::quota::objectives::ServiceObjectives;
use crate::quota::plan::{Plan, QuotaDefinition};
use crate::store::Store;
use crate::store::audit::Origin;
use crate::store::revision;
use crate::store::revision::Stamps;
use crate::store::revision::Update;
use crate::store::scope::Scope;
use crate::tenancy::IsolationModel;
use crate::tenancy::now;

/// The idempotency scope and audit action of plan creation.
const CREATE_SCOPE: &str = "CreatePlan";

/// A validated plan to create.
#[derive(Debug, Clone)]
pub struct NewPlan {
    /// The plan id.
    pub id: String,
    /// A human-readable name.
    pub display_name: String,
    /// What the plan is for.
    pub description: String,
    /// The quota definitions.
    pub quotas: Vec<QuotaDefinition>,
    /// What its new tenants get by default.
    pub default_isolation: IsolationModel,
    /// Its service level objectives, if any.
    pub objectives: Option<ServiceObjectives>,
}

/// A validated change to a plan: `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct PlanPatch {
    /// A new display name.
    pub display_name: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// New quota definitions, replacing the old as a whole.
    pub quotas: Option<Vec<QuotaDefinition>>,
    /// A new default isolation model for tenants created from now on.
    pub default_isolation: Option<IsolationModel>,
    /// New objectives; `Some(None)` removes them.
    pub objectives: Option<Option<ServiceObjectives>>,
}

/// The plan catalogue; cheap to clone.
#[derive(Debug, Clone)]
pub struct Plans {
    /// Where plans are stored.
    store: Store,
}

/// Refuses an update that changes the kind of a quota the plan already
/// has: its counters (a gauge, a window, a bucket) could not carry over, so
/// tenants' usage would silently restart. A new kind takes a new key.
fn check_kinds_kept(current: &[QuotaDefinition], next: &[QuotaDefinition]) -> Result<()> {
    let violations: Vec<FieldViolation> = next
        .iter()
        .enumerate()
        .filter(|(_, quota)| {
            current
                .iter()
                .any(|old| old.key == quota.key && old.kind != quota.kind)
        })
        .map(|(index, quota)| {
            FieldViolation::new(
                format!("plan.quotas[{index}].kind"),
                format!(
                    "the kind of {:?} cannot change, since its counters could not carry over; give the new quota a new key",
                    quota.key
                ),
            )
        })
        .collect();
    if violations.is_empty() {
        Ok(())
    } else {
        Err(Error::InvalidArgument(violations))
    }
}

impl Plans {
    /// The catalogue stored in `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Creates a plan, or returns the one a previous call with the same
    /// request id created.
    pub async fn create(
        &self,
        platform: &PlatformScope,
        origin: &Origin,
        new: NewPlan,
        request_id: Option<Uuid>,
    ) -> Result<Plan> {
        self.check_metrics_exist(platform, &new.quotas).await?;
        let quotas = serde_json::to_string(&new.quotas).map_err(Error::internal)?;
        let mut parts = vec![
            new.id.clone(),
            new.display_name.clone(),
            new.description.clone(),
            quotas,
            new.default_isolation.as_str().to_owned(),
        ];
        // Only when set, so a retry of a request made before plans had
        // objectives keeps the fingerprint it was stored with.
        if let Some(objectives) = &new.objectives {
            parts.push(serde_json::to_string(objectives).map_err(Error::internal)?);
        }
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        let fingerprint = paging::query_fingerprint(&parts);
        let plan = Plan {
            id: new.id,
            display_name: new.display_name,
            description: new.description,
            quotas: new.quotas,
            default_isolation: new.default_isolation,
            objectives: new.objectives,
            stamps: Stamps::first(now()),
        };
        self.store
            .idempotent(platform.into(), CREATE_SCOPE, request_id, fingerprint)
            .insert(origin, plan, Store::insert_stored)
            .await
    }

    /// Refuses quotas counting a metric the catalogue lacks, with
    /// FAILED_PRECONDITION `METRIC_NOT_FOUND`.
    async fn check_metrics_exist(
        &self,
        platform: &PlatformScope,
        quotas: &[QuotaDefinition],
    ) -> Result<()> {
        let wanted: Vec<&str> = quotas
            .iter()
            .map(|quota| quota.usage_metric.as_str())
            .filter(|metric| !metric.is_empty())
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let found = self.store.find_metrics(platform.into(), &wanted).await?;
        match wanted
            .iter()
            .find(|key| !found.iter().any(|metric| metric.key == **key))
        {
            Some(missing) => Err(Error::failed_precondition(
                "METRIC_NOT_FOUND",
                "METRIC",
                format!("metrics/{missing}"),
                format!("no metric {missing:?} is in the usage catalogue; create it first"),
            )),
            None => Ok(()),
        }
    }

    /// The plan `id`; NOT_FOUND when there is none.
    pub async fn get(&self, scope: Scope, id: &str) -> Result<Plan> {
        self.store.get_stored(scope, id).await
    }

    /// One page of plans ordered by id, and the next page token.
    pub async fn list(
        &self,
        scope: Scope,
        page_size: u64,
        page_token: &str,
    ) -> Result<(Vec<Plan>, String)> {
        self.store.page_stored(scope, page_size, page_token).await
    }

    /// Applies `patch` to plan `id` if it still has `etag` (when given).
    pub async fn update(
        &self,
        platform: &PlatformScope,
        origin: &Origin,
        id: &str,
        etag: Option<&str>,
        patch: PlanPatch,
    ) -> Result<Plan> {
        let current = self.get(platform.into(), id).await?;
        let change = async |current: &Plan, next: &mut Plan| {
            revision::patch(&mut next.display_name, patch.display_name);
            revision::patch(&mut next.description, patch.description);
            revision::patch(&mut next.default_isolation, patch.default_isolation);
            revision::patch(&mut next.objectives, patch.objectives);
            if let Some(quotas) = patch.quotas {
                check_kinds_kept(&current.quotas, &quotas)?;
                self.check_metrics_exist(platform, &quotas).await?;
                next.quotas = quotas;
            }
            Ok(())
        };
        let update = Update::new(&self.store, platform.into(), origin, "UpdatePlan", etag);
        update
            .apply((current, now()), change, Store::replace_stored)
            .await
    }
}
