//! The SQL that merges rollup deltas into `usage_rollups`: one upsert per
//! aggregation kind, each merging its value its own way (a sum, a maximum,
//! the latest by event time and id), and for UNIQUE_COUNT the distinct
//! values of each day (`usage_unique_values`, which months count too) and
//! the recount that sets the day's rollup from them; and
//! `Store::merge_into_rollups`, which folds and recomputations both call
//! to apply them.
//!
//! The additions saturate (values at [`ROLLUP_VALUE_CEILING`], counts at
//! `i64::MAX`) and compare before they add, so no stored row can make
//! PostgreSQL fail the fold with an out-of-range error (which would stop
//! aggregation for every tenant) or SQLite store an infinity.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{
    DeleteStatement, Expr, InsertStatement, OnConflict, Query, UpdateStatement,
};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseTransaction};

use crate::common::ids::TenantId;
use crate::error::Result;
use crate::store::Store;
use crate::store::entities::{usage_rollup, usage_unique_value};
use crate::usage::delta::{ROLLUP_VALUE_CEILING, RollupDelta, rollup_deltas};
use crate::usage::event::ValidEvent;
use crate::usage::metric::Aggregation;
use crate::usage::store::events::{day_text, insert_rows};

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

/// How a stored rollup's value takes an incoming delta's: each kind
/// merges in its own way.
fn merged_value(aggregation: Aggregation) -> String {
    match aggregation {
        Aggregation::Sum | Aggregation::Count => saturating_value_sum(),
        Aggregation::Max => "CASE WHEN excluded.value > usage_rollups.value \
             THEN excluded.value ELSE usage_rollups.value END"
            .to_owned(),
        Aggregation::Latest => {
            format!("CASE WHEN {NEWER} THEN excluded.value ELSE usage_rollups.value END")
        }
        // Recounted from the events right after.
        Aggregation::UniqueCount => "usage_rollups.value".to_owned(),
    }
}

/// The upsert of one aggregation's deltas: each kind merges its value in
/// its own way ([`merged_value`]), every kind adds its events and keeps
/// its latest event.
pub(crate) fn rollup_upsert(
    tenant_id: TenantId,
    aggregation: Aggregation,
    deltas: &[&RollupDelta],
    now: DateTime<Utc>,
) -> Result<InsertStatement> {
    use usage_rollup::Column;
    let columns = [
        Column::TenantId,
        Column::Metric,
        Column::Day,
        Column::Value,
        Column::EventCount,
        Column::LatestMicros,
        Column::LatestEventId,
        Column::UpdateTime,
    ];
    let rows = deltas.iter().map(|delta| {
        [
            tenant_id.as_uuid().into(),
            delta.metric.clone().into(),
            day_text(delta.day).into(),
            delta.value.into(),
            delta.event_count.into(),
            delta.latest_micros.into(),
            delta.latest_event_id.clone().into(),
            now.into(),
        ]
    });
    let mut insert = insert_rows(usage_rollup::Entity, columns, rows)?;
    let value = merged_value(aggregation);
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
pub(crate) fn unique_values_inserts(
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
            let columns = [Column::TenantId, Column::Metric, Column::Day, Column::Value];
            let rows = chunk.iter().map(|(metric, day, value)| {
                [
                    tenant_id.as_uuid().into(),
                    (*metric).into(),
                    day_text(*day).into(),
                    (*value).into(),
                ]
            });
            let mut insert = insert_rows(usage_unique_value::Entity, columns, rows)?;
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
pub(crate) fn recount(tenant_id: TenantId, delta: &RollupDelta) -> UpdateStatement {
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
pub(crate) fn unique_values_delete(day: NaiveDate) -> DeleteStatement {
    Query::delete()
        .from_table(usage_unique_value::Entity)
        .and_where(usage_unique_value::Column::Day.eq(day_text(day)))
        .to_owned()
}

/// The order aggregations' rollups are written in.
const AGGREGATION_ORDER: [Aggregation; 5] = [
    Aggregation::Sum,
    Aggregation::Count,
    Aggregation::Max,
    Aggregation::UniqueCount,
    Aggregation::Latest,
];

impl Store {
    /// Merges `events` into the rollups, tenant by tenant; UNIQUE_COUNT
    /// values are added to `usage_unique_values` first, and their rows
    /// recounted from there.
    pub(crate) async fn merge_into_rollups(
        &self,
        txn: &DatabaseTransaction,
        events: &[ValidEvent],
    ) -> Result<()> {
        let mut by_tenant: BTreeMap<TenantId, Vec<&ValidEvent>> = BTreeMap::new();
        for event in events {
            by_tenant.entry(event.tenant_id).or_default().push(event);
        }
        let now = Utc::now();
        for (tenant_id, of_tenant) in by_tenant {
            let unique: Vec<&ValidEvent> = of_tenant
                .iter()
                .copied()
                .filter(|event| event.aggregation == Aggregation::UniqueCount)
                .collect();
            for insert in unique_values_inserts(tenant_id, &unique)? {
                txn.execute_raw(self.backend().build(&insert)).await?;
            }
            let deltas = rollup_deltas(of_tenant);
            self.add_to_rollups(txn, tenant_id, &deltas, now).await?;
        }
        Ok(())
    }

    /// Upserts the rollups of `deltas`, one statement per aggregation.
    async fn add_to_rollups(
        &self,
        txn: &DatabaseTransaction,
        tenant_id: TenantId,
        deltas: &[RollupDelta],
        now: DateTime<Utc>,
    ) -> Result<()> {
        for aggregation in AGGREGATION_ORDER {
            let of_kind: Vec<&RollupDelta> = deltas
                .iter()
                .filter(|delta| delta.aggregation == aggregation)
                .collect();
            if of_kind.is_empty() {
                continue;
            }
            let upsert = rollup_upsert(tenant_id, aggregation, &of_kind, now)?;
            txn.execute_raw(self.backend().build(&upsert)).await?;
            if aggregation == Aggregation::UniqueCount {
                for delta in of_kind {
                    let recount = recount(tenant_id, delta);
                    txn.execute_raw(self.backend().build(&recount)).await?;
                }
            }
        }
        Ok(())
    }
}
