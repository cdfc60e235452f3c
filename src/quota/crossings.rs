//! Quota threshold crossings: when a CheckQuota or AllocateQuota leaves a
//! PERIODIC quota's usage at or above one of its warning thresholds,
//! tenantd records `QuotaThresholdCrossed` (an audit record and its
//! `quota.threshold_crossed` lifecycle event) once per (tenant, quota,
//! period, threshold).
//!
//! Invariants:
//! - once per period whichever replica sees it and however often: storage
//!   inserts the crossing under that key and writes the audit record, in
//!   the same transaction, only when the insert was new;
//! - the call is never slowed by it: the call only marks what it reached
//!   ([`Crossings::note`]), and a background task records it;
//! - nothing is lost to a failed write or a crash: a crossing is marked
//!   on every call that finds the threshold reached (not only the one that
//!   crossed it) until this replica has seen it recorded, so the next call
//!   after a failure or a restart marks it again;
//! - bounded: recorded keys are remembered for an hour (so calls above a
//!   threshold do not each write), and at most [`MAX_PENDING`] keys wait.
//!
//! RATE quotas' thresholds are not announced (their windows are seconds to
//! hours, so an event per window would be noise); ALLOCATION quotas have
//! no period. Both still warn on each call's result.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use crate::access::TenantScope;
use crate::common::ids::TenantId;
use crate::common::pending::Pending;
use crate::error::Result;
use crate::store::Store;
use crate::store::audit::{AuditRecord, Origin};
use crate::store::scope::Scope;

/// The audit action of a crossing.
pub const CROSSED_ACTION: &str = "QuotaThresholdCrossed";
/// The actor audit records name for crossings.
const CROSSING_ACTOR: &str = "system:quota-thresholds";
/// Most crossings waiting to be recorded.
pub const MAX_PENDING: usize = 10_000;
/// Most recorded crossings remembered.
const REMEMBERED: u64 = 100_000;
/// How long a recorded crossing is remembered: after it, the next call
/// above the threshold writes once more, and finds it recorded.
const REMEMBERED_FOR: Duration = Duration::from_secs(3600);

/// A warning threshold of a PERIODIC quota reached in a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThresholdCrossing {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The quota key.
    pub quota: String,
    /// The period, e.g. `d20261207` or `m202612`.
    pub period: String,
    /// The threshold, in percent of the limit.
    pub threshold_percent: i32,
    /// Usage when it was seen.
    pub used: i64,
    /// The limit then.
    pub limit: i64,
}

/// What makes a crossing the same one.
type Key = (TenantId, String, String, i32);

impl ThresholdCrossing {
    fn key(&self) -> Key {
        (
            self.tenant_id,
            self.quota.clone(),
            self.period.clone(),
            self.threshold_percent,
        )
    }
}

/// The crossings calls saw and the background task records; cheap to
/// clone.
#[derive(Clone)]
pub struct Crossings {
    /// Seen, not yet recorded.
    pending: Pending<Key, ThresholdCrossing>,
    /// Recorded lately, by this replica or another.
    recorded: moka::sync::Cache<Key, ()>,
}

impl Default for Crossings {
    fn default() -> Self {
        Self {
            pending: Pending::new(MAX_PENDING),
            recorded: moka::sync::Cache::builder()
                .max_capacity(REMEMBERED)
                .time_to_live(REMEMBERED_FOR)
                .build(),
        }
    }
}

impl Crossings {
    /// Marks `crossings`, which a check's or an allocation's answer shows
    /// ([`QuotaOutcome::threshold_crossings`](crate::quota::QuotaOutcome::threshold_crossings)),
    /// unless recorded lately.
    pub fn note(&self, crossings: impl IntoIterator<Item = ThresholdCrossing>) {
        for crossing in crossings {
            let key = crossing.key();
            if !self.recorded.contains_key(&key) {
                self.pending.mark(key, || crossing, |_| {});
            }
        }
    }

    /// Records what calls mark, as they mark it, until the task is
    /// dropped: one transaction per tenant. A failed write is logged and
    /// marked again, to be retried at the next wake-up.
    pub async fn watch(self, store: Store) {
        loop {
            let mut by_tenant: BTreeMap<TenantId, Vec<ThresholdCrossing>> = BTreeMap::new();
            for (_, crossing) in self.pending.next().await {
                by_tenant
                    .entry(crossing.tenant_id)
                    .or_default()
                    .push(crossing);
            }
            for (tenant_id, crossings) in by_tenant {
                if let Err(error) = self.record(&store, tenant_id, crossings.clone()).await {
                    tracing::warn!(tenant.id = %tenant_id, %error, "quota threshold crossings not recorded");
                    for crossing in crossings {
                        self.pending.mark(crossing.key(), || crossing, |_| {});
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    async fn record(
        &self,
        store: &Store,
        tenant_id: TenantId,
        crossings: Vec<ThresholdCrossing>,
    ) -> Result<()> {
        let keys: Vec<Key> = crossings.iter().map(ThresholdCrossing::key).collect();
        let scope = TenantScope::new(tenant_id);
        let recorded = store
            .record_threshold_crossings(Scope::from(&scope), crossings, audit)
            .await?;
        for key in keys {
            self.recorded.insert(key, ());
        }
        for crossing in &recorded {
            tracing::info!(
                tenant.id = %crossing.tenant_id,
                quota = %crossing.quota,
                period = %crossing.period,
                threshold_percent = crossing.threshold_percent,
                used = crossing.used,
                limit = crossing.limit,
                "quota threshold crossed"
            );
        }
        Ok(())
    }
}

fn audit(crossing: &ThresholdCrossing) -> Result<AuditRecord> {
    let origin = Origin::system(CROSSING_ACTOR);
    let after = json!({
        "quota": crossing.quota,
        "period": crossing.period,
        "threshold_percent": crossing.threshold_percent,
        "used": crossing.used,
        "limit": crossing.limit,
    });
    Ok(AuditRecord::new(
        &origin,
        CROSSED_ACTION,
        crossing.tenant_id,
        crossing.tenant_id.resource_name(),
        None,
        Some(after),
    ))
}
