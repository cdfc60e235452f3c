//! Recording plan-allowance crossings: each (tenant, quota, period,
//! threshold) is inserted once, and only a row this call inserted gets its
//! audit record, in the same transaction.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{InsertStatement, OnConflict, Query};

use crate::error::{Error, Result};
use crate::store::audit::AuditRecord;
use crate::store::entities::usage_alert;
use crate::store::scope::Scope;
use crate::store::{Store, insert_audit};
use crate::usage::alerts::AllowanceAlert;

impl Store {
    /// Records `alerts` not recorded before, each with the audit record
    /// `audit` makes of it; answers those it recorded. Not announced on
    /// the change feed: nothing caches alerts.
    pub async fn record_alerts(
        &self,
        scope: Scope,
        alerts: Vec<AllowanceAlert>,
        audit: impl Fn(&AllowanceAlert) -> Result<AuditRecord>,
    ) -> Result<Vec<AllowanceAlert>> {
        let now = chrono::Utc::now();
        self.write_unannounced(scope, async |txn| {
            let mut recorded = Vec::with_capacity(alerts.len());
            for alert in alerts {
                let insert = self.backend().build(&alert_insert(&alert, now)?);
                if txn.execute_raw(insert).await?.rows_affected() == 1 {
                    insert_audit(txn, audit(&alert)?).await?;
                    recorded.push(alert);
                }
            }
            Ok(recorded)
        })
        .await
    }
}

/// The insert of `alert`, crossed at `now`, unless its (tenant, quota,
/// period, threshold) is recorded already.
fn alert_insert(alert: &AllowanceAlert, now: DateTime<Utc>) -> Result<InsertStatement> {
    use usage_alert::Column;
    let mut insert = Query::insert();
    insert
        .into_table(usage_alert::Entity)
        .columns([
            Column::TenantId,
            Column::Quota,
            Column::Period,
            Column::ThresholdPercent,
            Column::Metric,
            Column::Used,
            Column::Allowance,
            Column::CreateTime,
        ])
        .values([
            alert.tenant_id.as_uuid().into(),
            alert.quota.clone().into(),
            alert.period.clone().into(),
            alert.threshold_percent.into(),
            alert.metric.clone().into(),
            (alert.used as f64).into(),
            alert.allowance.into(),
            now.into(),
        ])
        .map_err(Error::internal)?
        .on_conflict(
            OnConflict::columns([
                Column::TenantId,
                Column::Quota,
                Column::Period,
                Column::ThresholdPercent,
            ])
            .do_nothing()
            .to_owned(),
        );
    Ok(insert)
}
