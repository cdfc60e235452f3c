//! The costs of CheckQuota, AllocateQuota and ReleaseQuota, and the keys
//! of GetQuotaStatus, validated at the boundary: counted before anything
//! else is read, then each within the bounds of [`crate::quota::limiter::bounds`].

use crate::error::{Error, FieldViolation, Result, Violations};
use crate::pb;
use crate::quota::limiter::Mode;
use crate::quota::limiter::bounds::{amount_violation, cost_in_bounds};
use crate::quota::plan::{MAX_QUOTAS, is_quota_key};
use crate::quota::quotas::{Cost, MAX_COSTS, QuotaCall};
use crate::rpc::convert::into_result;

/// What CheckQuota, AllocateQuota and ReleaseQuota requests share: the
/// tenant they charge and a call of costs, so one handler serves all three.
pub trait CostsRequest: Send + 'static {
    /// The `parent` field: the tenant's resource name.
    fn parent(&self) -> &str;
    /// The call, validated by [`quota_call`].
    fn call(&self) -> Result<QuotaCall>;
}

impl CostsRequest for pb::CheckQuotaRequest {
    fn parent(&self) -> &str {
        &self.parent
    }
    fn call(&self) -> Result<QuotaCall> {
        quota_call(&self.costs, self.mode, &self.request_id, false)
    }
}

impl CostsRequest for pb::AllocateQuotaRequest {
    fn parent(&self) -> &str {
        &self.parent
    }
    fn call(&self) -> Result<QuotaCall> {
        quota_call(&self.costs, self.mode, &self.request_id, false)
    }
}

impl CostsRequest for pb::ReleaseQuotaRequest {
    fn parent(&self) -> &str {
        &self.parent
    }
    fn call(&self) -> Result<QuotaCall> {
        // A release gives back what was taken: it has no mode.
        quota_call(&self.costs, 0, &self.request_id, true)
    }
}

/// Validates the costs, mode and request id of a Check, Allocate or
/// Release call; `release` calls take no mode and positive costs only.
/// The number of costs is checked before anything else is read.
pub fn quota_call(
    costs: &[pb::QuotaCost],
    mode: i32,
    request_id: &str,
    release: bool,
) -> Result<QuotaCall> {
    if costs.is_empty() || costs.len() > MAX_COSTS {
        return Err(Error::invalid_field(
            "costs",
            format!("must hold 1 to {MAX_COSTS} costs"),
        ));
    }
    let mut violations = Vec::new();
    let mode = call_mode(mode, release, &mut violations);
    let mut checked: Vec<Cost> = Vec::with_capacity(costs.len());
    for (index, cost) in costs.iter().enumerate() {
        let checked_cost = check_cost(index, cost, mode, &checked, &mut violations);
        checked.push(checked_cost);
    }
    check_request_id(request_id, &mut violations);
    let call = QuotaCall {
        costs: checked,
        mode,
        request_id: (!request_id.is_empty()).then(|| request_id.to_owned()),
    };
    into_result(call, violations)
}

/// The call's mode: a release is always ALL_OR_NOTHING, and UNSPECIFIED
/// means ALL_OR_NOTHING too.
fn call_mode(mode: i32, release: bool, violations: &mut Vec<FieldViolation>) -> Mode {
    match pb::QuotaMode::try_from(mode) {
        _ if release => Mode::AllOrNothing,
        Ok(pb::QuotaMode::Unspecified | pb::QuotaMode::AllOrNothing) => Mode::AllOrNothing,
        Ok(pb::QuotaMode::BestEffort) => Mode::BestEffort,
        Ok(pb::QuotaMode::CheckOnly) => Mode::CheckOnly,
        Ok(pb::QuotaMode::Adjust) => Mode::Adjust,
        Err(_) => {
            violations.refuse("mode", "is not a QuotaMode");
            Mode::AllOrNothing
        }
    }
}

/// The cost at `index`, after the costs already `checked`: a quota key
/// named once, a cost negative only in ADJUST mode, within the bounds. A
/// cost of 0 counts as 1.
fn check_cost(
    index: usize,
    cost: &pb::QuotaCost,
    mode: Mode,
    checked: &[Cost],
    violations: &mut Vec<FieldViolation>,
) -> Cost {
    let field = |name: &str| format!("costs[{index}].{name}");
    if !is_quota_key(&cost.quota) {
        violations.refuse(
            field("quota"),
            "must be a quota key: 1 to 63 lowercase letters, digits, '_' or '.'",
        );
    } else if checked.iter().any(|seen| seen.quota == cost.quota) {
        violations.refuse(
            field("quota"),
            format!("{:?} is named twice; one cost per quota", cost.quota),
        );
    }
    if cost.cost < 0 && mode != Mode::Adjust {
        violations.refuse(field("cost"), "must not be negative outside ADJUST mode");
    }
    if !cost_in_bounds(cost.cost) {
        violations.push(amount_violation(field("cost"), "a cost, in magnitude,"));
    }
    Cost {
        quota: cost.quota.clone(),
        amount: if cost.cost == 0 { 1 } else { cost.cost },
        field: field("cost"),
    }
}

/// A request id is optional, and at most 128 printable ASCII characters.
fn check_request_id(request_id: &str, violations: &mut Vec<FieldViolation>) {
    let valid = request_id.len() <= 128 && request_id.bytes().all(|byte| byte.is_ascii_graphic());
    if !valid {
        violations.refuse(
            "request_id",
            "must be at most 128 printable ASCII characters; a UUID is recommended",
        );
    }
}

/// Validates the quota keys of a GetQuotaStatus request: at most
/// [`MAX_QUOTAS`] (as many as a plan holds), counted first, each a quota
/// key.
pub fn status_keys(keys: &[String]) -> Result<()> {
    if keys.len() > MAX_QUOTAS {
        return Err(Error::invalid_field(
            "quotas",
            format!("must hold at most {MAX_QUOTAS} quota keys"),
        ));
    }
    let violations = keys
        .iter()
        .enumerate()
        .filter(|(_, key)| !is_quota_key(key))
        .map(|(index, _)| FieldViolation::new(format!("quotas[{index}]"), "must be a quota key"))
        .collect();
    into_result((), violations)
}
