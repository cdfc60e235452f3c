//! QuotaService conversions: proto plans and overrides to domain values
//! (validation happens here), and plans back to proto; a call's results
//! are in [`super::outcome`].

use prost_types::FieldMask;

use crate::error::{Error, FieldViolation, Result, Violations};
use crate::pb;
use crate::quota::limiter::bounds::MAX_AMOUNT;
use crate::quota::objectives::{
    ServiceObjectives, threshold_description, validate_target, validate_threshold,
};
use crate::quota::plan::{
    MAX_QUOTAS, MAX_THRESHOLDS, Plan, QuotaDefinition, QuotaKind, QuotaPeriod, RateAlgorithm,
    parse_plan_name, validate_plan_id, validate_plan_text, validate_quotas,
};
use crate::quota::plans::{NewPlan, PlanPatch};
use crate::rpc::convert::{etag, into_result, required, timestamp};
use crate::rpc::mask::{not_mutable, update_paths};
use crate::tenancy::IsolationModel;
use crate::tenancy::{isolation_model, requested_isolation};

/// Every kind, to decode by [`kind_to`]: each mapping is written once.
const KINDS: [QuotaKind; 3] = [QuotaKind::Rate, QuotaKind::Periodic, QuotaKind::Allocation];

fn kind_from(kind: i32) -> Option<QuotaKind> {
    KINDS
        .into_iter()
        .find(|known| i32::from(kind_to(*known)) == kind)
}

pub(super) fn kind_to(kind: QuotaKind) -> pb::QuotaKind {
    match kind {
        QuotaKind::Rate => pb::QuotaKind::Rate,
        QuotaKind::Periodic => pb::QuotaKind::Periodic,
        QuotaKind::Allocation => pb::QuotaKind::Allocation,
    }
}

/// Every period, to decode by [`period_to`]: each mapping is written once.
const PERIODS: [QuotaPeriod; 5] = [
    QuotaPeriod::Second,
    QuotaPeriod::Minute,
    QuotaPeriod::Hour,
    QuotaPeriod::Day,
    QuotaPeriod::Month,
];

/// A proto period as a domain one; `None` for UNSPECIFIED and unknown values.
fn period_from(period: i32) -> Option<QuotaPeriod> {
    PERIODS
        .into_iter()
        .find(|known| i32::from(period_to(Some(*known))) == period)
}

pub(super) fn period_to(period: Option<QuotaPeriod>) -> pb::QuotaPeriod {
    match period {
        Some(QuotaPeriod::Second) => pb::QuotaPeriod::Second,
        Some(QuotaPeriod::Minute) => pb::QuotaPeriod::Minute,
        Some(QuotaPeriod::Hour) => pb::QuotaPeriod::Hour,
        Some(QuotaPeriod::Day) => pb::QuotaPeriod::Day,
        Some(QuotaPeriod::Month) => pb::QuotaPeriod::Month,
        None => pb::QuotaPeriod::Unspecified,
    }
}

/// A proto definition as a domain one; `violations` gets what is wrong.
fn definition_from(
    quota: &pb::QuotaDefinition,
    path: &str,
    violations: &mut Vec<FieldViolation>,
) -> QuotaDefinition {
    let kind = kind_from(quota.kind).unwrap_or_else(|| {
        violations.refuse(format!("{path}.kind"), "is required");
        QuotaKind::Allocation
    });
    // Bounded before it is copied; validate_quotas reports it.
    let thresholds = if quota.warning_threshold_percents.len() > MAX_THRESHOLDS {
        vec![0; MAX_THRESHOLDS + 1]
    } else {
        quota.warning_threshold_percents.clone()
    };
    let algorithm = match pb::RateLimitAlgorithm::try_from(quota.algorithm) {
        Ok(pb::RateLimitAlgorithm::TokenBucket) => Some(RateAlgorithm::TokenBucket),
        Ok(pb::RateLimitAlgorithm::SlidingWindow) => Some(RateAlgorithm::SlidingWindow),
        _ => None,
    };
    QuotaDefinition {
        key: quota.key.clone(),
        display_name: quota.display_name.clone(),
        kind,
        limit: quota.limit,
        unlimited: quota.unlimited,
        period: period_from(quota.period),
        algorithm,
        burst: quota.burst,
        usage_metric: quota.usage_metric.clone(),
        warning_threshold_percents: thresholds,
        grace_percent: quota.grace_percent,
        shadow: quota.shadow,
    }
}

fn quotas_from(
    quotas: &[pb::QuotaDefinition],
    field: &str,
    violations: &mut Vec<FieldViolation>,
) -> Vec<QuotaDefinition> {
    // Counted before any definition is read.
    if quotas.len() > MAX_QUOTAS {
        violations.refuse(field, format!("must hold at most {MAX_QUOTAS} quotas"));
        return Vec::new();
    }
    let definitions: Vec<QuotaDefinition> = quotas
        .iter()
        .enumerate()
        .map(|(index, quota)| definition_from(quota, &format!("{field}[{index}]"), violations))
        .collect();
    validate_quotas(&definitions, field, violations);
    definitions
}

/// Validates a CreatePlan request.
pub fn new_plan(request: &pb::CreatePlanRequest) -> Result<NewPlan> {
    let mut violations = Vec::new();
    let plan = required(request.plan.as_ref(), "plan")?;
    validate_plan_id(&request.plan_id, "plan_id", &mut violations);
    validate_plan_text(
        &plan.display_name,
        &plan.description,
        "plan",
        &mut violations,
    );
    let quotas = quotas_from(&plan.quotas, "plan.quotas", &mut violations);
    let default_isolation = requested_isolation(
        plan.default_isolation,
        "plan.default_isolation",
        &mut violations,
    )
    .unwrap_or(IsolationModel::Pool);
    let objectives = objectives_from(plan.objectives.as_ref(), &mut violations);
    let new = NewPlan {
        id: request.plan_id.clone(),
        display_name: plan.display_name.trim().to_owned(),
        description: plan.description.clone(),
        quotas,
        default_isolation,
        objectives,
    };
    into_result(new, violations)
}

/// Validates an UpdatePlan request into a patch.
pub fn plan_patch(plan: &pb::Plan, mask: Option<&FieldMask>) -> Result<PlanPatch> {
    let mut violations = Vec::new();
    let fields = [
        ("display_name", !plan.display_name.is_empty()),
        ("description", !plan.description.is_empty()),
        ("quotas", !plan.quotas.is_empty()),
        ("default_isolation", plan.default_isolation != 0),
        ("objectives", plan.objectives.is_some()),
    ];
    let mut patch = PlanPatch::default();
    for path in update_paths(mask, &fields) {
        match path {
            "display_name" => patch.display_name = Some(plan.display_name.trim().to_owned()),
            "description" => patch.description = Some(plan.description.clone()),
            "quotas" => {
                patch.quotas = Some(quotas_from(&plan.quotas, "plan.quotas", &mut violations));
            }
            "default_isolation" => {
                patch.default_isolation = Some(plan_isolation(plan, &mut violations));
            }
            // Named in the mask but absent: the plan's objectives go.
            "objectives" => {
                patch.objectives = Some(objectives_from(plan.objectives.as_ref(), &mut violations));
            }
            other => violations.push(not_mutable(other, "Plan", &fields)),
        }
    }
    let display_name = patch.display_name.as_deref().unwrap_or("unchanged");
    let description = patch.description.as_deref().unwrap_or_default();
    validate_plan_text(display_name, description, "plan", &mut violations);
    into_result(patch, violations)
}

/// Validates an UpdatePlan request: the plan's id, the etag it must still
/// have (none when empty) and the patch.
pub fn plan_update(request: &pb::UpdatePlanRequest) -> Result<(String, Option<&str>, PlanPatch)> {
    let plan = required(request.plan.as_ref(), "plan")?;
    let id = parse_plan_name(&plan.name, "plan.name")?;
    let patch = plan_patch(plan, request.update_mask.as_ref())?;
    Ok((id, etag(&plan.etag), patch))
}

/// The default isolation an update sets: UNSPECIFIED means POOL, as at
/// creation.
fn plan_isolation(plan: &pb::Plan, violations: &mut Vec<FieldViolation>) -> IsolationModel {
    requested_isolation(plan.default_isolation, "plan.default_isolation", violations)
        .unwrap_or(IsolationModel::Pool)
}

/// A plan's objectives, validated; `violations` gets what is wrong.
fn objectives_from(
    objectives: Option<&pb::ServiceObjectives>,
    violations: &mut Vec<FieldViolation>,
) -> Option<ServiceObjectives> {
    const FIELD: &str = "plan.objectives";
    let objectives = objectives?;
    let before = violations.len();
    validate_target(
        objectives.availability,
        &format!("{FIELD}.availability"),
        violations,
    );
    let threshold_field = format!("{FIELD}.latency_threshold");
    let threshold = match objectives
        .latency_threshold
        .map(std::time::Duration::try_from)
    {
        Some(Ok(threshold)) => validate_threshold(threshold, &threshold_field, violations),
        // Negative, or not a valid duration.
        Some(Err(_)) | None => {
            violations.refuse(threshold_field, threshold_description());
            None
        }
    };
    validate_target(
        objectives.latency_target,
        &format!("{FIELD}.latency_target"),
        violations,
    );
    let latency_threshold_micros = threshold?;
    (violations.len() == before).then_some(ServiceObjectives {
        availability: objectives.availability,
        latency_threshold_micros,
        latency_target: objectives.latency_target,
    })
}

impl From<&ServiceObjectives> for pb::ServiceObjectives {
    fn from(objectives: &ServiceObjectives) -> Self {
        Self {
            availability: objectives.availability,
            latency_threshold: prost_types::Duration::try_from(objectives.latency_threshold()).ok(),
            latency_target: objectives.latency_target,
        }
    }
}

fn definition_to(quota: &QuotaDefinition) -> pb::QuotaDefinition {
    pb::QuotaDefinition {
        key: quota.key.clone(),
        display_name: quota.display_name.clone(),
        kind: kind_to(quota.kind).into(),
        limit: quota.limit,
        unlimited: quota.unlimited,
        period: period_to(quota.period).into(),
        algorithm: match quota.algorithm {
            Some(RateAlgorithm::TokenBucket) => pb::RateLimitAlgorithm::TokenBucket,
            Some(RateAlgorithm::SlidingWindow) => pb::RateLimitAlgorithm::SlidingWindow,
            None => pb::RateLimitAlgorithm::Unspecified,
        }
        .into(),
        burst: quota.burst,
        usage_metric: quota.usage_metric.clone(),
        warning_threshold_percents: quota.warning_threshold_percents.clone(),
        grace_percent: quota.grace_percent,
        shadow: quota.shadow,
    }
}

impl From<&Plan> for pb::Plan {
    fn from(plan: &Plan) -> Self {
        Self {
            name: plan.resource_name(),
            display_name: plan.display_name.clone(),
            description: plan.description.clone(),
            quotas: plan.quotas.iter().map(definition_to).collect(),
            create_time: Some(timestamp(plan.stamps.create_time)),
            update_time: Some(timestamp(plan.stamps.update_time)),
            etag: plan.etag(),
            default_isolation: isolation_model(plan.default_isolation).into(),
            objectives: plan.objectives.as_ref().map(pb::ServiceObjectives::from),
        }
    }
}

/// An override as callers see it.
pub fn quota_override(value: &crate::quota::quotas::QuotaOverride) -> pb::QuotaOverride {
    pb::QuotaOverride {
        name: value.resource_name(),
        quota: value.quota.clone(),
        limit: value.limit.unwrap_or(0),
        unlimited: value.limit.is_none(),
        reason: value.reason.clone(),
        expire_time: value.expire_time.map(timestamp),
        create_time: Some(timestamp(value.stamps.create_time)),
        update_time: Some(timestamp(value.stamps.update_time)),
        etag: value.etag(),
    }
}

/// SetQuotaOverride's override, validated: its name and the change.
pub fn override_change(
    value: Option<&pb::QuotaOverride>,
) -> Result<
    (
        crate::common::ids::QuotaOverrideName,
        crate::quota::overrides::OverrideChange,
    ),
    Error,
> {
    let value = required(value, "quota_override")?;
    let name = crate::common::ids::QuotaOverrideName::parse(&value.name, "quota_override.name")?;
    let mut violations = Vec::new();
    if !value.unlimited && !(0..=MAX_AMOUNT).contains(&value.limit) {
        violations.refuse("quota_override.limit", format!("must be 0 to {MAX_AMOUNT}"));
    }
    crate::common::validate::reason(
        &value.reason,
        "quota_override.reason",
        true,
        &mut violations,
    );
    let expire_time = match &value.expire_time {
        Some(at) => match crate::access::time(at, "quota_override.expire_time") {
            Ok(at) => Some(at),
            Err(violation) => {
                violations.push(violation);
                None
            }
        },
        None => None,
    };
    if !violations.is_empty() {
        return Err(Error::InvalidArgument(violations));
    }
    let change = crate::quota::overrides::OverrideChange {
        quota: name.quota.clone(),
        limit: (!value.unlimited).then_some(value.limit),
        reason: value.reason.trim().to_owned(),
        expire_time,
    };
    Ok((name, change))
}

#[cfg(test)]
#[path = "convert_tests.rs"]
mod tests;
