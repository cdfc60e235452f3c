//! Recording quota threshold crossings: each (tenant, quota, period,
//! threshold) is inserted once, and only a row this call inserted gets its
//! audit record (and so its event), in the same transaction.

use chrono::{DateTime, Utc};
use sea_orm::Set;

use crate::error::Result;
use crate::quota::crossings::ThresholdCrossing;
use crate::store::Store;
use crate::store::audit::AuditRecord;
use crate::store::entities::quota_threshold_crossing;
use crate::store::scope::Scope;

impl Store {
    /// Records `crossings` not recorded before, each with the audit record
    /// `audit` makes of it; answers those it recorded.
    pub async fn record_threshold_crossings(
        &self,
        scope: Scope,
        crossings: Vec<ThresholdCrossing>,
        audit: impl Fn(&ThresholdCrossing) -> Result<AuditRecord>,
    ) -> Result<Vec<ThresholdCrossing>> {
        let now = Utc::now();
        self.record_firsts(scope, crossings, |crossing| row(crossing, now), audit)
            .await
    }
}

/// The row of `crossing`, seen at `now`.
fn row(crossing: &ThresholdCrossing, now: DateTime<Utc>) -> quota_threshold_crossing::ActiveModel {
    quota_threshold_crossing::ActiveModel {
        tenant_id: Set(crossing.tenant_id.as_uuid()),
        quota: Set(crossing.quota.clone()),
        period: Set(crossing.period.clone()),
        threshold_percent: Set(crossing.threshold_percent),
        used: Set(crossing.used),
        quota_limit: Set(crossing.limit),
        create_time: Set(now),
    }
}
