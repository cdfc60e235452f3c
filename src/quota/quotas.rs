//! Quota checks: a call's values, a tenant's limits (its plan's, or an
//! unexpired override's, cached between changes) and status reads. How a
//! call is turned into one limiter batch and its answer into results is
//! [`crate::quota::charge`].
//!
//! Invariants: every key of a call is named once; an ALL_OR_NOTHING call
//! that does not fit is refused with `QuotaExceeded` and changes nothing.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use crate::access::TenantScope;
use crate::common::cache::Answers;
use crate::common::ids::TenantId;
use crate::error::{Error, Result};
use crate::quota::crossings::Crossings;
use crate::quota::limit::Limit;
use crate::quota::limiter::{Limiter, Mode, Outcome};
use crate::quota::plan::Plan;
use crate::quota::plans::Plans;
use crate::store::Store;
use crate::store::changefeed::Change;
use crate::store::scope::Scope;
use crate::tenancy::Tenants;
use crate::usage::Usage;

/// Most costs in one call.
pub const MAX_COSTS: usize = 20;

/// An override of one quota's limit for one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaOverride {
    /// The tenant.
    pub tenant_id: crate::common::ids::TenantId,
    /// The quota key.
    pub quota: String,
    /// The limit; `None` is unlimited.
    pub limit: Option<i64>,
    /// Why it exists.
    pub reason: String,
    /// When it stops applying.
    pub expire_time: Option<DateTime<Utc>>,
    /// Its revision and times.
    pub stamps: crate::store::revision::Stamps,
}

/// Which call a batch stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// CheckQuota: charges RATE and PERIODIC, checks ALLOCATION.
    Check,
    /// AllocateQuota: charges every kind.
    Allocate,
    /// ReleaseQuota: gives back.
    Release,
}

impl Operation {
    /// The name limiters record.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Operation::Check => "check",
            Operation::Allocate => "allocate",
            Operation::Release => "release",
        }
    }
}

/// One cost of a validated call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cost {
    /// The quota key.
    pub quota: String,
    /// How much, within `±`[`MAX_AMOUNT`].
    pub amount: i64,
    /// The request field it came from, e.g. `costs[2].cost`.
    pub field: String,
}

/// A validated call.
#[derive(Debug, Clone)]
pub struct QuotaCall {
    /// The costs, in the caller's order.
    pub costs: Vec<Cost>,
    /// How refusals are treated.
    pub mode: Mode,
    /// The caller's request id.
    pub request_id: Option<String>,
}

/// One result of a call or a status read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaOutcome {
    /// The tenant's limit.
    pub limit: Limit,
    /// The cost asked.
    pub cost: i64,
    /// Whether usage rose by what was granted (a charge, not a check or a
    /// release).
    pub charged: bool,
    /// Whether the cost was a release, which gives back and never refuses.
    pub released: bool,
    /// What the limiter did.
    pub outcome: Outcome,
}

impl QuotaOutcome {
    /// When usage returns to zero.
    pub fn reset_time(&self) -> Option<DateTime<Utc>> {
        self.outcome
            .reset_ms
            .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
    }

    /// How long until a refused cost may fit.
    pub fn retry_after(&self) -> Option<Duration> {
        self.outcome
            .retry_ms
            .map(|ms| Duration::from_millis(u64::try_from(ms.max(0)).unwrap_or(0)))
    }
}

/// What quota checks read of a tenant: its plan and overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantLimits {
    /// The tenant.
    pub tenant_id: TenantId,
    /// Its plan.
    pub plan: Plan,
    /// Its overrides, expired ones included (expiry is judged per call).
    pub overrides: Vec<QuotaOverride>,
}

/// Quota checks for tenants; cheap to clone.
#[derive(Clone)]
pub struct Quotas {
    /// Where a tenant's plan id is read.
    pub(crate) tenants: Tenants,
    /// The plan catalogue.
    pub(crate) plans: Plans,
    /// Where overrides are read.
    pub(crate) store: Store,
    /// The counters.
    pub(super) limiter: Arc<dyn Limiter>,
    /// Usage of metrics, for quotas that count one.
    pub(super) usage: Usage,
    /// Tenants' plans and overrides, kept current by [`Quotas::invalidate`].
    cache: Arc<Answers<TenantId, Arc<TenantLimits>>>,
    /// The warning thresholds calls reached, to be recorded.
    pub(super) crossings: Crossings,
}

pub(crate) fn not_defined(plan: &Plan, key: &str) -> Error {
    Error::failed_precondition(
        "QUOTA_NOT_DEFINED",
        "QUOTA",
        key,
        format!(
            "quota {key:?} is not defined by the plan {}",
            plan.resource_name()
        ),
    )
}

impl Quotas {
    /// Quota checks over `tenants`' plans, counted by `limiter`.
    /// Quotas counting a usage metric read it from `usage`. Plans and
    /// overrides are cached for at most `cache_ttl` between changes.
    pub fn new(
        tenants: Tenants,
        plans: Plans,
        store: Store,
        limiter: Arc<dyn Limiter>,
        (usage, cache_ttl): (Usage, std::time::Duration),
    ) -> Self {
        Self {
            tenants,
            plans,
            store,
            limiter,
            usage,
            cache: Arc::new(Answers::new("quota_limits", cache_ttl, |limits| {
                Some(limits.tenant_id)
            })),
            crossings: Crossings::default(),
        }
    }

    /// The thresholds calls reach, for [`Crossings::watch`] to record.
    pub fn crossings(&self) -> Crossings {
        self.crossings.clone()
    }

    /// The tenant's plan and its limit for every quota of the plan.
    pub async fn limits(&self, scope: &TenantScope) -> Result<(Plan, Vec<Limit>)> {
        let stored = self.tenant_limits(scope).await?;
        let now = Utc::now();
        let limits = stored
            .plan
            .quotas
            .iter()
            .map(|definition| {
                let active = stored.overrides.iter().find(|candidate| {
                    candidate.quota == definition.key
                        && candidate.expire_time.is_none_or(|expiry| expiry > now)
                });
                let plan_limit = (!definition.unlimited).then_some(definition.limit);
                Limit {
                    definition: definition.clone(),
                    limit: active.map_or(plan_limit, |found| found.limit),
                    from_override: active.is_some(),
                    override_expire_time: active.and_then(|found| found.expire_time),
                }
            })
            .collect();
        Ok((stored.plan.clone(), limits))
    }

    /// The tenant's plan and overrides: from the cache, or read and cached.
    async fn tenant_limits(&self, scope: &TenantScope) -> Result<Arc<TenantLimits>> {
        let tenant_id = scope.tenant_id();
        self.cache
            .through_found(&tenant_id, async || {
                let tenant = self.tenants.get(scope).await?;
                let plan = match self.plans.get(Scope::from(scope), &tenant.plan).await {
                    Err(Error::NotFound { .. }) => {
                        return Err(Error::failed_precondition(
                            "PLAN_NOT_FOUND",
                            "PLAN",
                            format!("plans/{}", tenant.plan),
                            format!("the tenant's plan {:?} does not exist", tenant.plan),
                        ));
                    }
                    other => other?,
                };
                let overrides = self
                    .store
                    .tenant_overrides(Scope::from(scope), tenant_id)
                    .await?;
                Ok(Arc::new(TenantLimits {
                    tenant_id,
                    plan,
                    overrides,
                }))
            })
            .await
    }

    /// Drops cached plans and overrides `change` may have made wrong.
    pub fn invalidate(&self, change: Change) {
        self.cache.invalidate(change);
    }

    /// The status of the named quotas (every quota of the plan when
    /// empty), charging nothing.
    pub async fn status(
        &self,
        scope: &TenantScope,
        keys: &[String],
    ) -> Result<(Plan, Vec<QuotaOutcome>)> {
        let (plan, limits) = self.limits(scope).await?;
        let keys: Vec<String> = if keys.is_empty() {
            limits
                .iter()
                .map(|limit| limit.definition.key.clone())
                .collect()
        } else {
            keys.to_vec()
        };
        if keys.is_empty() {
            return Ok((plan, Vec::new()));
        }
        let call = QuotaCall {
            costs: keys
                .into_iter()
                .enumerate()
                .map(|(index, quota)| Cost {
                    quota,
                    amount: 0,
                    field: format!("quotas[{index}]"),
                })
                .collect(),
            mode: Mode::CheckOnly,
            request_id: None,
        };
        let outcomes = self.apply(scope, Operation::Check, call).await?;
        Ok((plan, outcomes))
    }
}
