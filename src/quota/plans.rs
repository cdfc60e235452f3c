//! The plan catalogue: create, read, list and update plans, audited.
//!
//! Plans are global (no tenant rows): operators change them through a
//! [`PlatformScope`]; any scope may read them, since every tenant's quota
//! check reads its plan.

use uuid::Uuid;

use crate::access::PlatformScope;
use crate::common::paging;
use crate::error::{Error, FieldViolation, Result};
use crate::quota::plan::{Plan, QuotaDefinition};
use crate::store::audit::{AuditRecord, Origin};
use crate::store::idempotency;
use crate::store::idempotency::IdempotencyEntry;
use crate::store::scope::Scope;
use crate::store::{REQUEST_ID_IN_USE, Store};
use crate::tenancy::IsolationModel;
use crate::tenancy::{now, snapshot};

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
}

/// The plan catalogue; cheap to clone.
#[derive(Debug, Clone)]
pub struct Plans {
    /// Where plans are stored.
    store: Store,
}

fn audit(
    origin: &Origin,
    action: &'static str,
    plan: &Plan,
    before: Option<serde_json::Value>,
) -> Result<AuditRecord> {
    let after = Some(snapshot(plan)?);
    Ok(AuditRecord::platform(
        origin,
        action,
        plan.resource_name(),
        before,
        after,
    ))
}

fn not_found(id: &str) -> Error {
    Error::NotFound {
        kind: "plan",
        name: format!("plans/{id}"),
    }
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
        let fingerprint = paging::query_fingerprint(&[
            &new.id,
            &new.display_name,
            &new.description,
            &quotas,
            new.default_isolation.as_str(),
        ]);
        if let Some(request_id) = request_id
            && let Some(entry) = self.entry(platform, request_id).await?
        {
            return self.replay(platform, &entry, &fingerprint).await;
        }
        let now = now();
        let plan = Plan {
            id: new.id,
            display_name: new.display_name,
            description: new.description,
            quotas: new.quotas,
            default_isolation: new.default_isolation,
            revision: 1,
            create_time: now,
            update_time: now,
        };
        let entry = request_id.map(|request_id| IdempotencyEntry {
            scope: CREATE_SCOPE,
            request_id,
            fingerprint: fingerprint.clone(),
            resource: plan.resource_name(),
        });
        let record = audit(origin, CREATE_SCOPE, &plan, None)?;
        match self
            .store
            .insert_plan(platform.into(), &plan, entry.as_ref(), record)
            .await
        {
            Ok(()) => Ok(plan),
            // A concurrent retry of the same request won the race.
            Err(Error::AlreadyExists { reason, .. }) if reason == REQUEST_ID_IN_USE => {
                match self.entry(platform, request_id.unwrap_or_default()).await? {
                    Some(entry) => self.replay(platform, &entry, &fingerprint).await,
                    None => Err(idempotency::in_flight()),
                }
            }
            Err(other) => Err(other),
        }
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

    async fn entry(
        &self,
        platform: &PlatformScope,
        request_id: Uuid,
    ) -> Result<Option<IdempotencyEntry>> {
        self.store
            .find_idempotency_entry(platform.into(), CREATE_SCOPE, request_id)
            .await
    }

    async fn replay(
        &self,
        platform: &PlatformScope,
        entry: &IdempotencyEntry,
        fingerprint: &str,
    ) -> Result<Plan> {
        idempotency::check_same_request(entry, fingerprint)?;
        let id = entry.resource.trim_start_matches("plans/");
        self.get(platform.into(), id).await
    }

    /// The plan `id`; NOT_FOUND when there is none.
    pub async fn get(&self, scope: Scope, id: &str) -> Result<Plan> {
        self.store
            .find_plan(scope, id)
            .await?
            .ok_or_else(|| not_found(id))
    }

    /// One page of plans ordered by id, and the next page token.
    pub async fn list(
        &self,
        scope: Scope,
        page_size: u64,
        page_token: &str,
    ) -> Result<(Vec<Plan>, String)> {
        let fingerprint = paging::query_fingerprint(&["plans"]);
        let after = self
            .store
            .page_tokens()
            .decode(page_token, &fingerprint, "page_token")?;
        let rows = self
            .store
            .list_plans(scope, after.as_deref(), page_size + 1)
            .await?;
        Ok(self
            .store
            .page_tokens()
            .cut_page(rows, page_size, &fingerprint, |plan| plan.id.clone()))
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
        current.check_etag(etag)?;
        let mut next = current.clone();
        if let Some(display_name) = patch.display_name {
            next.display_name = display_name;
        }
        if let Some(description) = patch.description {
            next.description = description;
        }
        if let Some(quotas) = patch.quotas {
            check_kinds_kept(&current.quotas, &quotas)?;
            self.check_metrics_exist(platform, &quotas).await?;
            next.quotas = quotas;
        }
        if let Some(default_isolation) = patch.default_isolation {
            next.default_isolation = default_isolation;
        }
        next.revision += 1;
        next.update_time = now();
        let record = audit(origin, "UpdatePlan", &next, Some(snapshot(&current)?))?;
        let replaced = self
            .store
            .replace_plan(platform.into(), current.revision, &next, record)
            .await?;
        if !replaced {
            return Err(Error::changed_meanwhile(&next.resource_name()));
        }
        Ok(next)
    }
}
