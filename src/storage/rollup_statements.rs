//! The SQL that merges rollup deltas into `usage_rollups`: one upsert per
//! aggregation kind, each merging its value its own way (a sum, a maximum,
//! the latest by event time and id), and the recount that makes a
//! UNIQUE_COUNT rollup exact from the events below the watermark.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{ColumnTrait, DbBackend};

use super::entities::usage_rollup;
use super::usage::day_text;
use super::usage_aggregation::position_is;
use crate::domain::ids::TenantId;
use crate::domain::metric::Aggregation;
use crate::domain::usage_event::RollupDelta;
use crate::error::{Error, Result};

/// Whether the incoming delta's latest event is later than the stored one.
const NEWER: &str = "(excluded.latest_micros > usage_rollups.latest_micros \
     OR (excluded.latest_micros = usage_rollups.latest_micros \
         AND excluded.latest_event_id > usage_rollups.latest_event_id))";

/// The upsert of one aggregation's deltas: each kind merges its value in
/// its own way, every kind adds its events and keeps its latest event.
pub(super) fn rollup_upsert(
    tenant_id: TenantId,
    aggregation: Aggregation,
    deltas: &[&RollupDelta],
    now: DateTime<Utc>,
) -> Result<sea_orm::sea_query::InsertStatement> {
    use usage_rollup::Column;
    let mut insert = Query::insert();
    insert.into_table(usage_rollup::Entity).columns([
        Column::TenantId,
        Column::Metric,
        Column::Day,
        Column::Value,
        Column::EventCount,
        Column::LatestMicros,
        Column::LatestEventId,
        Column::UpdateTime,
    ]);
    for delta in deltas {
        insert
            .values([
                tenant_id.as_uuid().into(),
                delta.metric.clone().into(),
                day_text(delta.day).into(),
                delta.value.into(),
                delta.event_count.into(),
                delta.latest_micros.into(),
                delta.latest_event_id.clone().into(),
                now.into(),
            ])
            .map_err(Error::internal)?;
    }
    let value = match aggregation {
        Aggregation::Sum | Aggregation::Count => "usage_rollups.value + excluded.value".to_owned(),
        Aggregation::Max => "CASE WHEN excluded.value > usage_rollups.value \
             THEN excluded.value ELSE usage_rollups.value END"
            .to_owned(),
        Aggregation::Latest => {
            format!("CASE WHEN {NEWER} THEN excluded.value ELSE usage_rollups.value END")
        }
        // Recounted from the events right after.
        Aggregation::UniqueCount => "usage_rollups.value".to_owned(),
    };
    let newer_of = |column: &str| {
        Expr::cust(format!(
            "CASE WHEN {NEWER} THEN excluded.{column} ELSE usage_rollups.{column} END"
        ))
    };
    insert.on_conflict(
        OnConflict::columns([Column::TenantId, Column::Metric, Column::Day])
            .values([
                (Column::Value, Expr::cust(value)),
                (
                    Column::EventCount,
                    Expr::cust("usage_rollups.event_count + excluded.event_count"),
                ),
                (Column::LatestMicros, newer_of("latest_micros")),
                (Column::LatestEventId, newer_of("latest_event_id")),
                (Column::UpdateTime, Expr::cust("excluded.update_time")),
            ])
            .to_owned(),
    );
    Ok(insert)
}

/// Sets a UNIQUE_COUNT rollup to the distinct values of its day's events
/// below the watermark `below`.
pub(super) fn recount(
    backend: DbBackend,
    tenant_id: TenantId,
    delta: &RollupDelta,
    below: i64,
) -> sea_orm::sea_query::UpdateStatement {
    use usage_rollup::Column;
    let folded = position_is(backend, "<", below);
    Query::update()
        .table(usage_rollup::Entity)
        .value(
            Column::Value,
            Expr::cust(format!(
                "(SELECT COUNT(DISTINCT e.unique_value) FROM usage_events e \
                 WHERE e.tenant_id = usage_rollups.tenant_id \
                   AND e.metric = usage_rollups.metric AND e.day = usage_rollups.day \
                   AND {folded})"
            )),
        )
        .and_where(Column::TenantId.eq(tenant_id.as_uuid()))
        .and_where(Column::Metric.eq(delta.metric.as_str()))
        .and_where(Column::Day.eq(day_text(delta.day)))
        .to_owned()
}
