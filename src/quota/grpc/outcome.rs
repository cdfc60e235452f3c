//! QuotaService's answers to quota calls: each quota's outcome of
//! CheckQuota, AllocateQuota and ReleaseQuota, and each status of
//! GetQuotaStatus, with their warnings and where their limit comes from.

use crate::pb;
use crate::quota::grpc::convert::{kind_to, period_to};
use crate::quota::quotas::QuotaOutcome;
use crate::quota::warnings::WarningKind;
use crate::rpc::convert::timestamp;

/// One result of a call.
pub fn quota_result(result: &QuotaOutcome) -> pb::QuotaResult {
    let limit = &result.limit;
    pb::QuotaResult {
        quota: limit.definition.key.clone(),
        kind: kind_to(limit.definition.kind).into(),
        allowed: result.outcome.allowed,
        cost: result.cost,
        granted: result.outcome.granted,
        limit: limit.limit.unwrap_or(0),
        unlimited: limit.limit.is_none(),
        used: result.outcome.used,
        remaining: limit.remaining(result.outcome.used),
        reset_time: result.reset_time().map(timestamp),
        retry_after: result
            .retry_after()
            .and_then(|delay| prost_types::Duration::try_from(delay).ok()),
        warnings: warnings(result),
        degraded: result.outcome.degraded,
        limit_source: source(result).into(),
    }
}

fn warnings(result: &QuotaOutcome) -> Vec<pb::QuotaWarning> {
    result
        .warnings()
        .into_iter()
        .map(|warning| pb::QuotaWarning {
            kind: match warning.kind {
                WarningKind::Threshold => pb::QuotaWarningKind::Threshold,
                WarningKind::Grace => pb::QuotaWarningKind::Grace,
                WarningKind::ShadowExceeded => pb::QuotaWarningKind::ShadowExceeded,
            }
            .into(),
            threshold_percent: warning.threshold_percent,
            newly_crossed: warning.newly_crossed,
            message: warning.message,
        })
        .collect()
}

fn source(result: &QuotaOutcome) -> pb::QuotaLimitSource {
    if result.limit.from_override {
        pb::QuotaLimitSource::Override
    } else {
        pb::QuotaLimitSource::Plan
    }
}

/// One status of GetQuotaStatus.
pub fn quota_status(result: &QuotaOutcome) -> pb::QuotaStatus {
    let limit = &result.limit;
    pb::QuotaStatus {
        quota: limit.definition.key.clone(),
        display_name: limit.definition.display_name.clone(),
        kind: kind_to(limit.definition.kind).into(),
        period: period_to(limit.definition.period).into(),
        limit: limit.limit.unwrap_or(0),
        unlimited: limit.limit.is_none(),
        limit_source: source(result).into(),
        override_expire_time: limit.override_expire_time.map(timestamp),
        used: result.outcome.used,
        remaining: limit.remaining(result.outcome.used),
        reset_time: result.reset_time().map(timestamp),
        warnings: warnings(result),
        shadow: limit.definition.shadow,
        usage_metric: limit.definition.usage_metric.clone(),
        degraded: result.outcome.degraded,
    }
}
