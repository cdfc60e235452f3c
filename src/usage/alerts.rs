//! Usage alerts: when a tenant's usage of a metric reaches 80 % and then
//! 100 % of what its plan includes (the limit of a PERIODIC quota counting
//! the metric, overrides included), tenantd records an audit event
//! (`UsageAllowanceCrossed`) and counts it in
//! `tenantd_usage_allowance_crossed_total{threshold}`.
//!
//! Invariant: each threshold of each quota is announced at most once per
//! period, whichever replica evaluates it and however often: storage
//! inserts the crossing under a unique key and writes the audit record
//! only when the insert was new, in one transaction.
//!
//! What to evaluate comes from [`UsageChanges`]: whatever changes rollups
//! marks the (tenant, metrics) it changed, and [`Alerts::watch`] evaluates
//! each marked tenant once per wake-up, however many batches marked it
//! meanwhile, so the set of pending work is bounded by tenants × metrics
//! and never by the ingestion rate.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use serde_json::json;

use crate::access::TenantScope;
use crate::common::ids::TenantId;
use crate::common::pending::Pending;
use crate::error::Result;
use crate::quota::is_metered;
use crate::quota::{QuotaOutcome, Quotas};
use crate::store::Store;
use crate::store::audit::{AuditRecord, Origin};
use crate::store::scope::Scope;

/// The thresholds announced, in percent of the allowance.
pub const ALERT_THRESHOLDS: [i32; 2] = [80, 100];
/// The Prometheus counter of announced crossings.
pub const ALLOWANCE_CROSSED: &str = "tenantd_usage_allowance_crossed_total";
/// The audit action of a crossing.
pub const ALERT_ACTION: &str = "UsageAllowanceCrossed";
/// The actor audit records name for alerts.
const ALERT_ACTOR: &str = "system:usage-alerts";

/// A threshold of an allowance crossed in a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowanceAlert {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The quota whose limit is the allowance.
    pub quota: String,
    /// The metric it counts.
    pub metric: String,
    /// The period, e.g. `m202611`.
    pub period: String,
    /// The threshold crossed, in percent.
    pub threshold_percent: i32,
    /// Usage when it was seen.
    pub used: i64,
    /// The allowance.
    pub allowance: i64,
}

/// The thresholds `outcome`'s usage has reached in `period`.
fn crossings(scope: &TenantScope, outcome: &QuotaOutcome, period: &str) -> Vec<AllowanceAlert> {
    let definition = &outcome.limit.definition;
    let (Some(allowance), used) = (outcome.limit.limit, outcome.outcome.used) else {
        return Vec::new();
    };
    ALERT_THRESHOLDS
        .iter()
        .filter(|percent| used > 0 && used.saturating_mul(100) >= allowance * i64::from(**percent))
        .map(|percent| AllowanceAlert {
            tenant_id: scope.tenant_id(),
            quota: definition.key.clone(),
            metric: definition.usage_metric.clone(),
            period: period.to_owned(),
            threshold_percent: *percent,
            used,
            allowance,
        })
        .collect()
}

fn audit(alert: &AllowanceAlert) -> Result<AuditRecord> {
    let origin = Origin::system(ALERT_ACTOR);
    let after = json!({
        "quota": alert.quota,
        "metric": alert.metric,
        "period": alert.period,
        "threshold_percent": alert.threshold_percent,
        "used": alert.used,
        "allowance": alert.allowance,
    });
    Ok(AuditRecord::new(
        &origin,
        ALERT_ACTION,
        alert.tenant_id,
        alert.tenant_id.resource_name(),
        None,
        Some(after),
    ))
}

/// Evaluates allowances; cheap to clone.
#[derive(Clone)]
pub struct Alerts {
    /// Limits and metered usage.
    quotas: Quotas,
    /// Where crossings are recorded.
    store: Store,
}

impl Alerts {
    /// Alerts on `quotas`' allowances, recorded in `store`.
    pub fn new(quotas: Quotas, store: Store) -> Self {
        Self { quotas, store }
    }

    /// Evaluates the allowances of the tenant of `scope` that count one of
    /// `metrics`; records and announces the thresholds newly crossed this
    /// period, and answers them.
    pub async fn evaluate(
        &self,
        scope: &TenantScope,
        metrics: &[&str],
    ) -> Result<Vec<AllowanceAlert>> {
        let (_, limits) = self.quotas.limits(scope).await?;
        let keys: Vec<String> = limits
            .iter()
            .filter(|limit| {
                is_metered(limit)
                    && limit.limit.is_some()
                    && metrics.contains(&limit.definition.usage_metric.as_str())
            })
            .map(|limit| limit.definition.key.clone())
            .collect();
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let now = Utc::now();
        let (_, outcomes) = self.quotas.status(scope, &keys).await?;
        let crossed: Vec<AllowanceAlert> = outcomes
            .iter()
            .flat_map(|outcome| {
                let period = outcome
                    .limit
                    .definition
                    .period
                    .and_then(|period| period.calendar_period(now))
                    .map(|(id, _)| id)
                    .unwrap_or_default();
                crossings(scope, outcome, &period)
            })
            .collect();
        if crossed.is_empty() {
            return Ok(Vec::new());
        }
        let recorded = self
            .store
            .record_alerts(Scope::from(scope), crossed, audit)
            .await?;
        for alert in &recorded {
            metrics::counter!(ALLOWANCE_CROSSED, "threshold" => alert.threshold_percent.to_string())
                .increment(1);
            tracing::info!(
                tenant.id = %alert.tenant_id,
                quota = %alert.quota,
                threshold_percent = alert.threshold_percent,
                used = alert.used,
                allowance = alert.allowance,
                "usage allowance crossed"
            );
        }
        Ok(recorded)
    }
}

impl Alerts {
    /// Evaluates the tenants `changes` marks, as they are marked, until the
    /// task is dropped. A failed evaluation is logged and marked again, to
    /// be retried at the next wake-up.
    pub async fn watch(self, changes: UsageChanges) {
        loop {
            for (tenant_id, metrics) in changes.next().await {
                let scope = TenantScope::new(tenant_id);
                let keys: Vec<&str> = metrics.iter().map(String::as_str).collect();
                if let Err(error) = self.evaluate(&scope, &keys).await {
                    tracing::warn!(tenant.id = %tenant_id, %error, "usage alerts not evaluated");
                    changes.mark(tenant_id, metrics.iter().cloned());
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    }
}

/// The (tenant, metrics) whose usage changed and whose allowances are yet
/// to be evaluated; cheap to clone, shared by whatever changes rollups and
/// the alerts task. Never turns a tenant away: what is pending is bounded
/// by tenants × metrics already.
#[derive(Clone)]
pub struct UsageChanges(Pending<TenantId, BTreeSet<String>>);

impl Default for UsageChanges {
    fn default() -> Self {
        Self(Pending::new(usize::MAX))
    }
}

impl UsageChanges {
    /// Marks `metrics` of `tenant_id` as changed.
    pub fn mark(&self, tenant_id: TenantId, metrics: impl IntoIterator<Item = String>) {
        self.0
            .mark(tenant_id, BTreeSet::new, |pending| pending.extend(metrics));
    }

    /// Waits until something is marked, then takes everything marked.
    pub async fn next(&self) -> BTreeMap<TenantId, BTreeSet<String>> {
        self.0.next().await
    }
}
