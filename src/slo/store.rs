//! The rows of `tenant_call_minutes`: each replica's counts of each
//! tenant's calls by minute, written whole by the flush, read back for a
//! tenant's windows and for the fleet's last day, deleted past retention.
//!
//! Invariants kept here: a write replaces the replica's own row of a
//! (tenant, minute), never adds to it, so writing the same counts twice
//! changes nothing; writes and fleet-wide reads run in the platform scope
//! (they span tenants), a tenant's reads in its own.

use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::common::ids::TenantId;
use crate::common::latency::LATENCY_BUCKETS;
use crate::error::{Error, Result};
use crate::slo::call_log::MinuteCounts;
use crate::slo::counts::CallCounts;
use crate::store::Store;
use crate::store::entities::tenant_call_minute::{self, Column};
use crate::store::scope::Scope;
use crate::store::write::ChangeRows;

/// Rows per INSERT: 7 bound parameters each, well under SQLite's limit.
const ROWS_PER_STATEMENT: usize = 100;

/// One stored row of a tenant: a replica's counts of one minute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMinute {
    /// The minute, since the Unix epoch.
    pub minute: i64,
    /// The replica that counted.
    pub replica: String,
    /// What it counted.
    pub counts: CallCounts,
}

/// A count as a BIGINT: counts beyond `i64::MAX` are stored as that.
fn stored(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// A stored count; a negative one (a row written by hand) counts as 0.
fn counted(count: i64) -> u64 {
    u64::try_from(count).unwrap_or(0)
}

/// The buckets as stored: a JSON array, overflow bucket last.
fn buckets_text(counts: &CallCounts) -> Result<String> {
    serde_json::to_string(&counts.buckets).map_err(Error::internal)
}

/// Stored buckets; a histogram that does not read as one (written by a
/// release with other bounds, or by hand) is left out, so the row counts
/// its requests and failures but no latency.
fn buckets_from(text: &str) -> [u64; LATENCY_BUCKETS] {
    serde_json::from_str(text).unwrap_or([0; LATENCY_BUCKETS])
}

fn minute_from_model(row: tenant_call_minute::Model) -> StoredMinute {
    StoredMinute {
        minute: row.minute,
        counts: CallCounts {
            requests: counted(row.requests),
            failures: counted(row.failures),
            latency_sum_micros: counted(row.latency_sum_micros),
            buckets: buckets_from(&row.buckets),
        },
        replica: row.replica,
    }
}

impl Store {
    /// Writes `minutes` as `replica`'s counts, replacing what it wrote of
    /// them before, in one transaction.
    pub(crate) async fn put_call_minutes(
        &self,
        replica: &str,
        minutes: &[MinuteCounts],
    ) -> Result<()> {
        let mut inserts = Vec::new();
        for chunk in minutes.chunks(ROWS_PER_STATEMENT) {
            let mut insert = Query::insert();
            insert.into_table(tenant_call_minute::Entity).columns([
                Column::TenantId,
                Column::Minute,
                Column::Replica,
                Column::Requests,
                Column::Failures,
                Column::LatencySumMicros,
                Column::Buckets,
            ]);
            for entry in chunk {
                let row: [Expr; 7] = [
                    entry.tenant_id.as_uuid().into(),
                    entry.minute.into(),
                    replica.into(),
                    stored(entry.counts.requests).into(),
                    stored(entry.counts.failures).into(),
                    stored(entry.counts.latency_sum_micros).into(),
                    buckets_text(&entry.counts)?.into(),
                ];
                insert.values(row).map_err(Error::internal)?;
            }
            insert.on_conflict(
                OnConflict::columns([Column::TenantId, Column::Minute, Column::Replica])
                    .update_columns([
                        Column::Requests,
                        Column::Failures,
                        Column::LatencySumMicros,
                        Column::Buckets,
                    ])
                    .to_owned(),
            );
            inserts.push(insert);
        }
        self.write_unannounced(Scope::Platform, async |txn| {
            for insert in &inserts {
                txn.execute(insert).await?;
            }
            Ok(())
        })
        .await
    }

    /// Every replica's rows of `tenant_id` from minute `since` on.
    pub(crate) async fn call_minutes(
        &self,
        tenant_id: TenantId,
        since: i64,
    ) -> Result<Vec<StoredMinute>> {
        let select = tenant_call_minute::Entity::find()
            .filter(Column::TenantId.eq(tenant_id.as_uuid()))
            .filter(Column::Minute.gte(since));
        self.find_all(Scope::Tenant(tenant_id), select, |row| {
            Ok(minute_from_model(row))
        })
        .await
    }

    /// Up to `limit` tenants with rows from minute `since` on, those with
    /// the most failures first, then the most requests.
    pub(crate) async fn most_failing_tenants(
        &self,
        since: i64,
        limit: u64,
    ) -> Result<Vec<TenantId>> {
        let select = tenant_call_minute::Entity::find()
            .select_only()
            .column(Column::TenantId)
            .filter(Column::Minute.gte(since))
            .group_by(Column::TenantId)
            .order_by_desc(Expr::cust("SUM(failures)"))
            .order_by_desc(Expr::cust("SUM(requests)"))
            .order_by_asc(Column::TenantId)
            .limit(limit)
            .into_tuple::<uuid::Uuid>();
        self.find_all(Scope::Platform, select, |id| Ok(TenantId::from_uuid(id)))
            .await
    }

    /// Deletes every replica's rows of minutes before `before`; how many.
    pub(crate) async fn delete_call_minutes_before(&self, before: i64) -> Result<u64> {
        let delete = tenant_call_minute::Entity::delete_many().filter(Column::Minute.lt(before));
        self.write_unannounced(Scope::Platform, async |txn| delete.rows_changed(txn).await)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_beyond_a_bigint_are_stored_as_the_largest() {
        assert_eq!(stored(u64::MAX), i64::MAX);
        assert_eq!(counted(-5), 0);
    }

    #[test]
    fn a_histogram_of_other_bounds_counts_no_latency() {
        let mut counts = CallCounts::default();
        counts.add_call(false, std::time::Duration::from_millis(3));
        let text = buckets_text(&counts).expect("json");
        assert_eq!(buckets_from(&text), counts.buckets);
        assert_eq!(buckets_from("[1, 2, 3]"), [0; LATENCY_BUCKETS]);
        assert_eq!(buckets_from("not json"), [0; LATENCY_BUCKETS]);
    }
}
