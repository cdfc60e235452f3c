//! The `tenant_call_minutes` table: one row per (tenant, UTC minute,
//! replica), the calls that replica answered for the tenant in that minute.

use sea_orm::entity::prelude::*;

/// One replica's counts of one tenant's calls in one minute.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_call_minutes")]
pub struct Model {
    /// The tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    /// The UTC minute, in minutes since the Unix epoch.
    #[sea_orm(primary_key, auto_increment = false)]
    pub minute: i64,
    /// The replica that counted, a random id per process.
    #[sea_orm(primary_key, auto_increment = false)]
    pub replica: String,
    /// Calls answered.
    pub requests: i64,
    /// Calls that failed on the server's side.
    pub failures: i64,
    /// The sum of their latencies, in microseconds.
    pub latency_sum_micros: i64,
    /// A JSON array of the calls in each latency bucket (not cumulative),
    /// in the order of `common::latency::LATENCY_BOUNDS_MICROS`, the
    /// overflow bucket last.
    pub buckets: String,
}

super::plain_entity!();
