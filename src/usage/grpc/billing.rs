//! UsageService's billing reads: GetUsageSummary and ExportUsage requests
//! to domain values (validation happens here), answers back, and the task
//! that streams an export.
//!
//! An export stream holds at most [`EXPORT_BUFFER`] chunks ahead of the
//! client: the next chunk is read only when there is room, so a slow
//! reader slows the export instead of growing the server's memory.

use chrono::NaiveDate;
use tokio::sync::mpsc;
use tonic::Status;

use crate::access::Gate;
use crate::access::{PlatformScope, TenantContext};
use crate::common::ids::TenantRef;
use crate::common::paging::PageTokens;
use crate::error::{Error, FieldViolation, Result};
use crate::pb;
use crate::rpc::convert::timestamp;
use crate::usage::export::{ExportCursor, ExportQuery, ExportedRollup, Exports};
use crate::usage::grpc::convert::day;
use crate::usage::metric::validate_key;
use crate::usage::summary::{Allowance, MetricSummary, UsageSummary};

/// Chunks an export may hold ready before the client reads them.
pub const EXPORT_BUFFER: usize = 2;

/// Where an export's chunks go.
type Chunks = mpsc::Sender<std::result::Result<pb::ExportUsageResponse, Status>>;

/// Validates metric keys named in `field`.
fn metric_keys(keys: &[String], field: &str, violations: &mut Vec<FieldViolation>) {
    for (index, key) in keys.iter().enumerate() {
        validate_key(key, &format!("{field}[{index}]"), violations);
    }
}

/// Validates a GetUsageSummary request: the tenant it names (checked
/// first), the day (if any) and the metric keys.
pub fn summary_request(
    request: &pb::GetUsageSummaryRequest,
) -> Result<(TenantRef, Option<NaiveDate>, Vec<String>)> {
    let by = TenantRef::parse_name(&request.parent, "parent")?;
    let mut violations = Vec::new();
    metric_keys(&request.metrics, "metrics", &mut violations);
    let day = if request.day.is_empty() {
        None
    } else {
        day(&request.day, "day", &mut violations)
    };
    if !violations.is_empty() {
        return Err(Error::InvalidArgument(violations));
    }
    Ok((by, day, request.metrics.clone()))
}

fn metric_summary(summary: &MetricSummary) -> pb::MetricUsageSummary {
    pb::MetricUsageSummary {
        metric: summary.metric.key.clone(),
        unit: summary.metric.spec.unit.clone(),
        included: match summary.allowance {
            Allowance::Limited(included) => included,
            Allowance::None | Allowance::Unlimited => 0.0,
        },
        unlimited: summary.allowance == Allowance::Unlimited,
        has_allowance: summary.allowance != Allowance::None,
        quota: summary.quota.clone().unwrap_or_default(),
        used: summary.used,
        overage: summary.overage(),
    }
}

/// The answer to GetUsageSummary.
pub fn summary_response(summary: &UsageSummary) -> pb::GetUsageSummaryResponse {
    pb::GetUsageSummaryResponse {
        period_start_day: summary.period_start.to_string(),
        period_end_day: summary.period_end.to_string(),
        plan: summary.plan.resource_name(),
        metrics: summary.metrics.iter().map(metric_summary).collect(),
        aggregate_time: Some(timestamp(summary.aggregate_time)),
    }
}

/// Validates an ExportUsage request and resolves the tenants it names for
/// the caller in `context`: the export and where it resumes.
pub async fn export_request(
    gate: &Gate,
    tokens: &PageTokens,
    context: &TenantContext,
    request: &pb::ExportUsageRequest,
) -> Result<(ExportQuery, Option<ExportCursor>)> {
    let mut violations = Vec::new();
    metric_keys(&request.metrics, "metrics", &mut violations);
    let start = day(&request.start_day, "start_day", &mut violations);
    let end = day(&request.end_day, "end_day", &mut violations);
    let mut refs = Vec::with_capacity(request.tenants.len());
    for (index, name) in request.tenants.iter().enumerate() {
        match TenantRef::parse_name(name, &format!("tenants[{index}]")) {
            Ok(by) => refs.push(by),
            Err(Error::InvalidArgument(mut found)) => violations.append(&mut found),
            Err(other) => return Err(other),
        }
    }
    let (Some(start_day), Some(end_day), true) = (start, end, violations.is_empty()) else {
        return Err(Error::InvalidArgument(violations));
    };
    let mut tenants = Vec::with_capacity(refs.len());
    for by in &refs {
        tenants.push(gate.scope_for(context, by).await?.tenant_id());
    }
    let query = ExportQuery::new(tenants, request.metrics.clone(), (start_day, end_day))?;
    let cursor = ExportCursor::from_token(tokens, &request.resume_token, &query, "resume_token")?;
    Ok((query, cursor))
}

fn exported(rollup: &ExportedRollup) -> pb::UsageRollup {
    let stored = &rollup.stored;
    pb::UsageRollup {
        tenant: stored.tenant_id.resource_name(),
        metric: stored.rollup.metric.clone(),
        day: stored.rollup.day.to_string(),
        value: stored.rollup.value,
        event_count: stored.rollup.event_count,
        unit: rollup.unit.clone(),
        closed: rollup.closed,
        update_time: Some(timestamp(stored.update_time)),
    }
}

/// Sends `query`'s chunks after `cursor` to `chunks` until the export is
/// complete, the client goes away, or a read fails (sent as its status).
pub async fn stream_export(
    exports: Exports,
    platform: PlatformScope,
    query: ExportQuery,
    cursor: Option<ExportCursor>,
    chunks: Chunks,
) {
    let mut reader = match exports.open(query, cursor).await {
        Ok(reader) => reader,
        Err(error) => {
            let _ = chunks.send(Err(Status::from(error))).await;
            return;
        }
    };
    loop {
        let response = match reader.next(&platform).await {
            Ok(Some(chunk)) => Ok(pb::ExportUsageResponse {
                rollups: chunk.rollups.iter().map(exported).collect(),
                resume_token: reader.resume_token(),
            }),
            Ok(None) => return,
            Err(error) => Err(Status::from(error)),
        };
        let failed = response.is_err();
        if chunks.send(response).await.is_err() || failed {
            return;
        }
    }
}
