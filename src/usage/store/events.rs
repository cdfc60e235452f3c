//! Usage rows: the metric catalogue, recorded events and daily rollups.
//!
//! Invariants kept here:
//! - events are inserted with `ON CONFLICT (tenant_id, event_id) DO
//!   NOTHING … RETURNING event_id`, so the database itself says which events
//!   are new, in the transaction that writes them;
//! - ingestion writes events only: rollups are written by the aggregation
//!   job (`usage_aggregation.rs`), so concurrent writers never queue on hot
//!   rollup rows.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use sea_orm::sea_query::{Expr, InsertStatement, IntoIden, IntoTableRef, OnConflict, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde::Serialize;

use crate::common::ids::TenantId;
use crate::error::{Error, Result};
use crate::store::entities::{usage_event, usage_metric, usage_rollup, usage_unique_value};
use crate::store::revision::Stamps;
use crate::store::scope::Scope;
use crate::store::stored::stored;
use crate::store::{Store, postgres_statement};
use crate::usage::event::ValidEvent;
use crate::usage::metric::{Aggregation, Metric, MetricSpec};
use crate::usage::query::DailyRollup;

/// Events per INSERT statement: a whole batch (at most 1,000 events), well
/// under SQLite's limit on bound parameters (9 per event there; PostgreSQL
/// binds the whole batch as one JSON parameter).
const EVENTS_PER_STATEMENT: usize = 1000;

stored!(Metric in usage_metric by Key, made stamps.create_time, metric_model, metric_from_model);

pub(crate) fn day_text(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// One INSERT of `rows` into `table`'s `columns`: every row has as many
/// values as there are columns, so none can be refused for its length.
pub(crate) fn insert_rows<const N: usize>(
    table: impl IntoTableRef,
    columns: [impl IntoIden; N],
    rows: impl IntoIterator<Item = [Expr; N]>,
) -> Result<InsertStatement> {
    let mut insert = Query::insert();
    insert.into_table(table).columns(columns);
    for row in rows {
        insert.values(row).map_err(Error::internal)?;
    }
    Ok(insert)
}

impl Store {
    /// The metrics among `keys` that exist, ordered by key.
    pub async fn find_metrics(&self, scope: Scope, keys: &[&str]) -> Result<Vec<Metric>> {
        let select = usage_metric::Entity::find()
            .filter(usage_metric::Column::Key.is_in(keys.iter().copied()))
            .order_by_asc(usage_metric::Column::Key);
        self.find_all(scope, select, metric_from_model).await
    }

    /// Records the events of each tenant (each in its tenant's scope, all
    /// in one transaction and as few statements as the batch allows);
    /// answers how many were new. The aggregation job adds
    /// them to the rollups once committed. Event ids must be unique within each tenant's events.
    pub async fn record_usage(&self, batches: &[(Scope, Vec<ValidEvent>)]) -> Result<usize> {
        let mut tenants = Vec::with_capacity(batches.len());
        let mut events: Vec<&ValidEvent> = Vec::new();
        for (scope, of_tenant) in batches {
            let Scope::Tenant(tenant_id) = *scope else {
                return Err(Error::internal("usage is recorded in tenant scopes only"));
            };
            if of_tenant.iter().any(|event| event.tenant_id != tenant_id) {
                return Err(Error::internal("an event is outside its tenant's scope"));
            }
            tenants.push(tenant_id);
            events.extend(of_tenant);
        }
        if events.is_empty() {
            return Ok(0);
        }
        let now = Utc::now();
        self.write_unannounced(Scope::Tenants(tenants.into()), async |txn| {
            let mut accepted = 0;
            for chunk in events.chunks(EVENTS_PER_STATEMENT) {
                accepted += self.insert_events(txn, chunk, now).await?.len();
            }
            Ok(accepted)
        })
        .await
    }

    /// Inserts `events`, skipping recorded ones; the ids of the new ones.
    async fn insert_events(
        &self,
        txn: &DatabaseTransaction,
        events: &[&ValidEvent],
        now: DateTime<Utc>,
    ) -> Result<Vec<String>> {
        if self.backend() == DbBackend::Postgres {
            return insert_events_postgres(txn, events, now).await;
        }
        use usage_event::Column;
        let rows = events
            .iter()
            .map(|event| {
                let dimensions =
                    serde_json::to_value(&event.dimensions).map_err(Error::internal)?;
                Ok([
                    event.tenant_id.as_uuid().into(),
                    event.event_id.clone().into(),
                    event.metric.clone().into(),
                    event.quantity.into(),
                    event.occurred_time.into(),
                    day_text(event.day).into(),
                    dimensions.into(),
                    event.unique_value.clone().into(),
                    now.into(),
                ])
            })
            .collect::<Result<Vec<[Expr; 9]>>>()?;
        let columns = [
            Column::TenantId,
            Column::EventId,
            Column::Metric,
            Column::Quantity,
            Column::OccurredTime,
            Column::Day,
            Column::Dimensions,
            Column::UniqueValue,
            Column::IngestTime,
        ];
        let mut insert = insert_rows(usage_event::Entity, columns, rows)?;
        insert
            .on_conflict(
                OnConflict::columns([Column::TenantId, Column::EventId])
                    .do_nothing()
                    .to_owned(),
            )
            .returning_col(Column::EventId);
        let rows = txn.query_all_raw(self.backend().build(&insert)).await?;
        rows.iter()
            .map(|row| row.try_get::<String>("", "event_id").map_err(Error::from))
            .collect()
    }

    /// The daily rollups of `tenant_id` for `metrics` over `days`
    /// (inclusive), ordered by metric then day.
    pub async fn daily_rollups(
        &self,
        scope: Scope,
        tenant_id: TenantId,
        metrics: &[&str],
        days: (NaiveDate, NaiveDate),
    ) -> Result<Vec<DailyRollup>> {
        use usage_rollup::Column;
        let select = usage_rollup::Entity::find()
            .filter(Column::TenantId.eq(tenant_id.as_uuid()))
            .filter(Column::Metric.is_in(metrics.iter().copied()))
            .filter(Column::Day.between(day_text(days.0), day_text(days.1)))
            .order_by_asc(Column::Metric)
            .order_by_asc(Column::Day);
        self.find_all(scope, select, daily_rollup).await
    }

    /// For UNIQUE_COUNT `metrics`: the distinct values of each month within
    /// `days`, as (metric, first day of the month, count). Counted from
    /// `usage_unique_values`, which the fold keeps as long as the rollups,
    /// so a month answers the same after its raw events were deleted.
    pub async fn distinct_by_month(
        &self,
        scope: Scope,
        tenant_id: TenantId,
        metrics: &[&str],
        days: (NaiveDate, NaiveDate),
    ) -> Result<Vec<(String, NaiveDate, i64)>> {
        use usage_unique_value::Column;
        let select = usage_unique_value::Entity::find()
            .select_only()
            .column(Column::Metric)
            .column_as(Expr::cust("substr(day, 1, 7)"), "month")
            .column_as(Expr::cust("COUNT(DISTINCT value)"), "distinct_count")
            .filter(Column::TenantId.eq(tenant_id.as_uuid()))
            .filter(Column::Metric.is_in(metrics.iter().copied()))
            .filter(Column::Day.between(day_text(days.0), day_text(days.1)))
            .group_by(Column::Metric)
            .group_by(Expr::cust("substr(day, 1, 7)"))
            .into_tuple::<(String, String, i64)>();
        self.find_all(scope, select, |(metric, month, count)| {
            Ok((metric, parse_day(&format!("{month}-01"))?, count))
        })
        .await
    }
}

/// One event as [`insert_events_postgres`] sends it.
#[derive(Serialize)]
struct EventRow<'a> {
    tenant_id: uuid::Uuid,
    event_id: &'a str,
    metric: &'a str,
    quantity: f64,
    /// RFC 3339 with microseconds, PostgreSQL's precision.
    occurred_time: String,
    day: String,
    dimensions: &'a BTreeMap<String, String>,
    unique_value: Option<&'a str>,
}

/// The PostgreSQL form of the batch insert: the events travel as one JSON
/// array parameter that `json_to_recordset` turns into rows. A `VALUES`
/// list would bind 9 parameters per event, and PostgreSQL would plan the
/// statement's 4,500 expressions again on every execution; this plan is the
/// same small one for any batch. JSON keeps every value exact: ids and text
/// as strings, the quantity as the shortest decimal that reads back as the
/// same `f64`, times to the microsecond.
async fn insert_events_postgres(
    txn: &DatabaseTransaction,
    events: &[&ValidEvent],
    now: DateTime<Utc>,
) -> Result<Vec<String>> {
    let rows: Vec<EventRow<'_>> = events
        .iter()
        .map(|event| EventRow {
            tenant_id: event.tenant_id.as_uuid(),
            event_id: &event.event_id,
            metric: &event.metric,
            quantity: event.quantity,
            occurred_time: event
                .occurred_time
                .to_rfc3339_opts(SecondsFormat::Micros, true),
            day: day_text(event.day),
            dimensions: &event.dimensions,
            unique_value: event.unique_value.as_deref(),
        })
        .collect();
    let rows = serde_json::to_string(&rows).map_err(Error::internal)?;
    let inserted = txn
        .query_all_raw(postgres_statement(
            "INSERT INTO usage_events (tenant_id, event_id, metric, quantity, occurred_time, \
             day, dimensions, unique_value, ingest_time) \
             SELECT tenant_id, event_id, metric, quantity, occurred_time, day, dimensions, \
             unique_value, $2 \
             FROM json_to_recordset($1::json) AS event(tenant_id uuid, event_id text, \
             metric text, quantity float8, occurred_time timestamptz, day text, \
             dimensions jsonb, unique_value text) \
             ON CONFLICT (tenant_id, event_id) DO NOTHING RETURNING event_id",
            [rows.into(), now.into()],
        ))
        .await?;
    inserted
        .iter()
        .map(|row| row.try_get::<String>("", "event_id").map_err(Error::from))
        .collect()
}

/// A stored rollup row as queries read it.
pub(crate) fn daily_rollup(row: usage_rollup::Model) -> Result<DailyRollup> {
    Ok(DailyRollup {
        day: parse_day(&row.day)?,
        metric: row.metric,
        value: row.value,
        event_count: row.event_count,
    })
}

pub(crate) fn parse_day(text: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(Error::internal)
}

fn metric_model(metric: &Metric) -> Result<usage_metric::ActiveModel> {
    Ok(usage_metric::ActiveModel {
        key: Set(metric.key.clone()),
        display_name: Set(metric.spec.display_name.clone()),
        description: Set(metric.spec.description.clone()),
        unit: Set(metric.spec.unit.clone()),
        aggregation: Set(metric.spec.aggregation.as_str().to_owned()),
        unique_dimension: Set(metric.spec.unique_dimension.clone()),
        revision: Set(metric.stamps.revision),
        create_time: Set(metric.stamps.create_time),
        update_time: Set(metric.stamps.update_time),
    })
}

fn metric_from_model(row: usage_metric::Model) -> Result<Metric> {
    let aggregation = Aggregation::parse(&row.aggregation).ok_or_else(|| {
        Error::internal(format!("metric {:?} has an unknown aggregation", row.key))
    })?;
    Ok(Metric {
        key: row.key,
        spec: MetricSpec {
            display_name: row.display_name,
            description: row.description,
            unit: row.unit,
            aggregation,
            unique_dimension: row.unique_dimension,
        },
        stamps: Stamps {
            revision: row.revision,
            create_time: row.create_time,
            update_time: row.update_time,
        },
    })
}
