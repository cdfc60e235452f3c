//! Recording plan-allowance crossings: each (tenant, quota, period,
//! threshold) is inserted once, and only a row this call inserted gets its
//! audit record, in the same transaction.

use chrono::{DateTime, Utc};
use sea_orm::Set;

use crate::error::Result;
use crate::store::Store;
use crate::store::audit::AuditRecord;
use crate::store::entities::usage_alert;
use crate::store::scope::Scope;
use crate::usage::alerts::AllowanceAlert;

impl Store {
    /// Records `alerts` not recorded before, each with the audit record
    /// `audit` makes of it; answers those it recorded.
    pub async fn record_alerts(
        &self,
        scope: Scope,
        alerts: Vec<AllowanceAlert>,
        audit: impl Fn(&AllowanceAlert) -> Result<AuditRecord>,
    ) -> Result<Vec<AllowanceAlert>> {
        let now = chrono::Utc::now();
        self.record_firsts(scope, alerts, |alert| alert_row(alert, now), audit)
            .await
    }
}

/// The row of `alert`, crossed at `now`; its key is (tenant, quota,
/// period, threshold).
fn alert_row(alert: &AllowanceAlert, now: DateTime<Utc>) -> usage_alert::ActiveModel {
    usage_alert::ActiveModel {
        tenant_id: Set(alert.tenant_id.as_uuid()),
        quota: Set(alert.quota.clone()),
        period: Set(alert.period.clone()),
        threshold_percent: Set(alert.threshold_percent),
        metric: Set(alert.metric.clone()),
        used: Set(alert.used as f64),
        allowance: Set(alert.allowance),
        create_time: Set(now),
    }
}
