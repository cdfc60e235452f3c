//! The SQL that merges rollup deltas into `usage_rollups`: one upsert per
//! aggregation kind, each merging its value its own way (a sum, a maximum,
//! the latest by event time and id), and for UNIQUE_COUNT the distinct
//! values of each day (`usage_unique_values`, which months count too) and
//! the recount that sets the day's rollup from them.
//!
//! The additions saturate (values at [`ROLLUP_VALUE_CEILING`], counts at
//! `i64::MAX`) and compare before they add, so no stored row can make
//! PostgreSQL fail the fold with an out-of-range error (which would stop
//! aggregation for every tenant) or SQLite store an infinity.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::ColumnTrait;
use sea_orm::sea_query::{
    DeleteStatement, Expr, InsertStatement, OnConflict, Query, UpdateStatement,
};

use super::entities::{usage_rollup, usage_unique_value};
use super::usage::day_text;
use crate::domain::ids::TenantId;
use crate::domain::metric::Aggregation;
use crate::domain::usage_delta::{ROLLUP_VALUE_CEILING, RollupDelta};
use crate::domain::usage_event::ValidEvent;
use crate::error::{Error, Result};

/// Whether the incoming delta's latest event is later than the stored one.
const NEWER: &str = "(excluded.latest_micros > usage_rollups.latest_micros \
     OR (excluded.latest_micros = usage_rollups.latest_micros \
         AND excluded.latest_event_id > usage_rollups.latest_event_id))";

/// `usage_rollups.value + excluded.value`, saturating at the ceiling. The
/// incoming value is at most the ceiling (deltas saturate in memory), so
/// the subtraction cannot overflow, and the sum is taken only below it.
fn saturating_value_sum() -> String {
    let ceiling = format!("{ROLLUP_VALUE_CEILING:e}");
    format!(
        "CASE WHEN usage_rollups.value >= {ceiling} - excluded.value THEN {ceiling} \
         ELSE usage_rollups.value + excluded.value END"
    )
}

/// `usage_rollups.event_count + excluded.event_count`, saturating at
/// `i64::MAX`.
fn saturating_count_sum() -> String {
    let most = i64::MAX;
    format!(
        "CASE WHEN usage_rollups.event_count >= {most} - excluded.event_count THEN {most} \
         ELSE usage_rollups.event_count + excluded.event_count END"
    )
}

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
        Aggregation::Sum | Aggregation::Count => saturating_value_sum(),
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
                (Column::EventCount, Expr::cust(saturating_count_sum())),
                (Column::LatestMicros, newer_of("latest_micros")),
                (Column::LatestEventId, newer_of("latest_event_id")),
                (Column::UpdateTime, Expr::cust("excluded.update_time")),
            ])
            .to_owned(),
    );
    Ok(insert)
}

/// Distinct (metric, day, value) rows per INSERT: 4 bound parameters
/// each, well under SQLite's limit.
const UNIQUE_VALUES_PER_STATEMENT: usize = 1000;

/// The inserts that add the unique values of `events` (one tenant's, of
/// UNIQUE_COUNT metrics) to `usage_unique_values`, skipping known ones.
pub(super) fn unique_values_inserts(
    tenant_id: TenantId,
    events: &[&ValidEvent],
) -> Result<Vec<InsertStatement>> {
    use usage_unique_value::Column;
    let distinct: BTreeSet<(&str, NaiveDate, &str)> = events
        .iter()
        .filter_map(|event| {
            let value = event.unique_value.as_deref()?;
            Some((event.metric.as_str(), event.day, value))
        })
        .collect();
    let rows: Vec<_> = distinct.into_iter().collect();
    rows.chunks(UNIQUE_VALUES_PER_STATEMENT)
        .map(|chunk| {
            let mut insert = Query::insert();
            insert.into_table(usage_unique_value::Entity).columns([
                Column::TenantId,
                Column::Metric,
                Column::Day,
                Column::Value,
            ]);
            for (metric, day, value) in chunk {
                insert
                    .values([
                        tenant_id.as_uuid().into(),
                        (*metric).into(),
                        day_text(*day).into(),
                        (*value).into(),
                    ])
                    .map_err(Error::internal)?;
            }
            insert.on_conflict(
                OnConflict::columns([Column::TenantId, Column::Metric, Column::Day, Column::Value])
                    .do_nothing()
                    .to_owned(),
            );
            Ok(insert)
        })
        .collect()
}

/// Sets a UNIQUE_COUNT rollup to the number of distinct values its day has
/// in `usage_unique_values` (folded events only).
pub(super) fn recount(tenant_id: TenantId, delta: &RollupDelta) -> UpdateStatement {
    use usage_rollup::Column;
    Query::update()
        .table(usage_rollup::Entity)
        .value(
            Column::Value,
            Expr::cust(
                "(SELECT COUNT(*) FROM usage_unique_values u \
                 WHERE u.tenant_id = usage_rollups.tenant_id \
                   AND u.metric = usage_rollups.metric AND u.day = usage_rollups.day)",
            ),
        )
        .and_where(Column::TenantId.eq(tenant_id.as_uuid()))
        .and_where(Column::Metric.eq(delta.metric.as_str()))
        .and_where(Column::Day.eq(day_text(delta.day)))
        .to_owned()
}

/// Deletes the unique values of `day`, before it is recomputed.
pub(super) fn unique_values_delete(day: NaiveDate) -> DeleteStatement {
    Query::delete()
        .from_table(usage_unique_value::Entity)
        .and_where(usage_unique_value::Column::Day.eq(day_text(day)))
        .to_owned()
}
