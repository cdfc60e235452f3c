//! Reading rollups for export: every tenant's, in (tenant id, metric, day)
//! order from a cursor, one chunk per read.

use chrono::NaiveDate;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::common::ids::TenantId;
use crate::error::Result;
use crate::store::Store;
use crate::store::entities::usage_rollup;
use crate::store::scope::Scope;
use crate::usage::export::{ExportCursor, ExportQuery, StoredRollup};
use crate::usage::store::events::{daily_rollup, day_text};

/// The rows strictly after `cursor` in (tenant id, metric, day) order.
fn after(cursor: &ExportCursor) -> Condition {
    use usage_rollup::Column;
    let tenant = cursor.tenant_id.as_uuid();
    Condition::any().add(Column::TenantId.gt(tenant)).add(
        Condition::all().add(Column::TenantId.eq(tenant)).add(
            Condition::any()
                .add(Column::Metric.gt(cursor.metric.as_str()))
                .add(
                    Condition::all()
                        .add(Column::Metric.eq(cursor.metric.as_str()))
                        .add(Column::Day.gt(day_text(cursor.day))),
                ),
        ),
    )
}

impl Store {
    /// At most `limit` rollups of `query`'s tenants (every tenant when it
    /// names none) and of `metrics`, after `cursor`, in (tenant id, metric,
    /// day) order.
    pub async fn export_rollups(
        &self,
        scope: Scope,
        query: &ExportQuery,
        metrics: &[&str],
        cursor: Option<&ExportCursor>,
        limit: u64,
    ) -> Result<Vec<StoredRollup>> {
        use usage_rollup::Column;
        let days: (NaiveDate, NaiveDate) = (query.start_day, query.end_day);
        let mut select = usage_rollup::Entity::find()
            .filter(Column::Metric.is_in(metrics.iter().copied()))
            .filter(Column::Day.between(day_text(days.0), day_text(days.1)));
        if !query.tenants.is_empty() {
            select =
                select.filter(Column::TenantId.is_in(query.tenants.iter().map(TenantId::as_uuid)));
        }
        if let Some(cursor) = cursor {
            select = select.filter(after(cursor));
        }
        let select = select
            .order_by_asc(Column::TenantId)
            .order_by_asc(Column::Metric)
            .order_by_asc(Column::Day)
            .limit(limit);
        self.find_all(scope, select, |row| {
            Ok(StoredRollup {
                tenant_id: TenantId::from_uuid(row.tenant_id),
                update_time: row.update_time,
                rollup: daily_rollup(row)?,
            })
        })
        .await
    }
}
