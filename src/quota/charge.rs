//! Applying a call: each cost's limit and what the call does to its
//! counter, metered quotas answered from usage, the others counted in one
//! limiter batch, and an ALL_OR_NOTHING call that does not fit refused
//! with `QuotaExceeded`.
//!
//! Invariants: every key of a call is defined by the tenant's plan (else
//! FAILED_PRECONDITION `QUOTA_NOT_DEFINED`); a call is one limiter batch,
//! so it is atomic; when a metered quota already refuses an ALL_OR_NOTHING
//! call, the batch only checks, so nothing is charged.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::access::TenantScope;
use crate::error::{Error, QuotaViolation, Result};
use crate::quota::limit::Limit;
use crate::quota::limiter::{Action, Batch, Item, Mode, Outcome};
use crate::quota::metered::{is_metered, metered_outcome};
use crate::quota::plan::{Plan, QuotaKind};
use crate::quota::quotas::{Cost, Operation, QuotaCall, QuotaOutcome, Quotas, not_defined};

/// A cost of a call with its limit and what it does to the counter.
type Chosen = (Limit, Cost, Action);

impl Quotas {
    /// Applies `call` for `operation`: answers the outcomes, or refuses an
    /// ALL_OR_NOTHING call that does not fit with `QuotaExceeded`.
    pub async fn apply(
        &self,
        scope: &TenantScope,
        operation: Operation,
        call: QuotaCall,
    ) -> Result<Vec<QuotaOutcome>> {
        let (plan, limits) = self.limits(scope).await?;
        let now = Utc::now();
        let chosen = choose(&plan, &limits, operation, &call)?;
        let metered = self.metered(scope, &chosen, now).await?;
        // Charge nothing when a metered quota already refuses the call.
        let mode = match call.mode {
            Mode::AllOrNothing if metered.iter().flatten().any(|outcome| !outcome.allowed) => {
                Mode::CheckOnly
            }
            mode => mode,
        };
        let items = counter_items(&chosen, &metered, now);
        let counted = if items.is_empty() {
            Vec::new()
        } else {
            let batch = Batch {
                tenant_id: scope.tenant_id(),
                operation: operation.as_str(),
                request_id: call.request_id,
                mode,
                items,
            };
            self.limiter.apply(&batch).await?.outcomes
        };
        let outcomes = merge(chosen, metered, counted)?;
        if operation != Operation::Release {
            count_decisions(&outcomes);
            let tenant_id = scope.tenant_id();
            self.crossings.note(
                outcomes
                    .iter()
                    .flat_map(|outcome| outcome.threshold_crossings(tenant_id, now)),
            );
        }
        if call.mode == Mode::AllOrNothing && operation != Operation::Release {
            refuse_unless_allowed(scope, &outcomes)?;
        }
        Ok(outcomes)
    }

    /// The outcome of each chosen cost whose quota counts a usage metric
    /// (read from usage, not counted by the limiter); `None` for the others.
    async fn metered(
        &self,
        scope: &TenantScope,
        chosen: &[Chosen],
        now: DateTime<Utc>,
    ) -> Result<Vec<Option<Outcome>>> {
        let mut metered = Vec::with_capacity(chosen.len());
        for (limit, cost, action) in chosen {
            metered.push(if is_metered(limit) {
                Some(metered_outcome(&self.usage, scope, limit, *action, cost.amount, now).await?)
            } else {
                None
            });
        }
        Ok(metered)
    }
}

/// The counter of quota decisions, by `quota` and `outcome`.
pub const QUOTA_DECISIONS: &str = "tenantd_quota_decisions_total";

/// Counts each outcome in [`QUOTA_DECISIONS`]: `degraded` when counted by
/// the replica's fallback, `refused`, `shadow` when a shadow-mode quota
/// let through what it would have refused, else `allowed`.
fn count_decisions(outcomes: &[QuotaOutcome]) {
    for outcome in outcomes {
        let beyond_ceiling = outcome
            .limit
            .ceiling()
            .is_some_and(|ceiling| outcome.outcome.used > ceiling);
        let decision = if outcome.outcome.degraded {
            "degraded"
        } else if !outcome.outcome.allowed {
            "refused"
        } else if outcome.limit.definition.shadow && beyond_ceiling {
            "shadow"
        } else {
            "allowed"
        };
        metrics::counter!(
            QUOTA_DECISIONS,
            "quota" => outcome.limit.definition.key.clone(),
            "outcome" => decision,
        )
        .increment(1);
    }
}

/// The limiter's items: one per chosen cost that is not metered.
fn counter_items(chosen: &[Chosen], metered: &[Option<Outcome>], now: DateTime<Utc>) -> Vec<Item> {
    chosen
        .iter()
        .zip(metered)
        .filter(|(_, metered)| metered.is_none())
        .map(|((limit, cost, action), _)| Item {
            quota: limit.definition.key.clone(),
            counter: limit.counter(now),
            action: *action,
            cost: cost.amount,
            // A shadow quota counts but never refuses.
            ceiling: limit.ceiling().filter(|_| !limit.definition.shadow),
            field: cost.field.clone(),
        })
        .collect()
}

/// The outcome of every chosen cost, in the call's order: its metered
/// outcome, or the limiter's next one.
fn merge(
    chosen: Vec<Chosen>,
    metered: Vec<Option<Outcome>>,
    counted: Vec<Outcome>,
) -> Result<Vec<QuotaOutcome>> {
    let mut counted = counted.into_iter();
    let mut outcomes = Vec::with_capacity(chosen.len());
    for ((limit, cost, action), metered) in chosen.into_iter().zip(metered) {
        let charged = metered.is_none() && action == Action::Charge;
        let outcome = match metered.or_else(|| counted.next()) {
            Some(outcome) => outcome,
            None => return Err(Error::internal("the limiter answered too few outcomes")),
        };
        outcomes.push(QuotaOutcome {
            limit,
            cost: cost.amount,
            charged,
            released: action == Action::Release,
            outcome,
        });
    }
    Ok(outcomes)
}

/// The limit of every key of `call` with its cost and what `operation`
/// does to its counter; refuses keys the plan lacks and ADJUST where it
/// does not apply.
fn choose(
    plan: &Plan,
    limits: &[Limit],
    operation: Operation,
    call: &QuotaCall,
) -> Result<Vec<Chosen>> {
    let mut chosen = Vec::with_capacity(call.costs.len());
    for cost in &call.costs {
        let key = &cost.quota;
        let limit = limits
            .iter()
            .find(|limit| &limit.definition.key == key)
            .ok_or_else(|| not_defined(plan, key))?;
        if call.mode == Mode::Adjust
            && (limit.definition.kind == QuotaKind::Rate || is_metered(limit))
        {
            return Err(Error::invalid_field(
                "mode",
                format!(
                    "ADJUST does not apply to {key:?}: RATE quotas and quotas counting a usage metric are never corrected"
                ),
            ));
        }
        let action = match (operation, limit.definition.kind) {
            (Operation::Release, _) => Action::Release,
            (Operation::Check, QuotaKind::Allocation) if call.mode != Mode::Adjust => Action::Check,
            _ => Action::Charge,
        };
        chosen.push((limit.clone(), cost.clone(), action));
    }
    Ok(chosen)
}

/// `QuotaExceeded` naming every quota that did not fit, with the longest
/// wait among them.
fn refuse_unless_allowed(scope: &TenantScope, outcomes: &[QuotaOutcome]) -> Result<()> {
    let refused: Vec<&QuotaOutcome> = outcomes
        .iter()
        .filter(|outcome| !outcome.outcome.allowed)
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    let subject = scope.tenant_id().resource_name();
    let violations: Vec<QuotaViolation> = refused
        .iter()
        .map(|outcome| QuotaViolation {
            subject: subject.clone(),
            quota_id: outcome.limit.definition.key.clone(),
            quota_metric: outcome.limit.definition.usage_metric.clone(),
            quota_value: outcome.limit.capacity().unwrap_or(0),
            description: outcome.limit.describe(outcome.outcome.used),
        })
        .collect();
    // Allocations free up only by releases: no RetryInfo when one refused.
    let retry_after = refused
        .iter()
        .map(|outcome| outcome.retry_after())
        .collect::<Option<Vec<Duration>>>()
        .and_then(|delays| delays.into_iter().max());
    let keys: Vec<&str> = violations.iter().map(|v| v.quota_id.as_str()).collect();
    Err(Error::QuotaExceeded {
        message: format!("quota exceeded: {}", keys.join(", ")),
        violations,
        retry_after,
    })
}
