//! Usage: the metric catalogue, ingestion of usage events exactly once,
//! the daily rollups, queries, alerts and exports.

pub mod alerts;
pub mod csv;
pub mod delta;
pub mod event;
pub mod export;
pub mod grpc;
pub mod ingest;
pub mod metric;
pub mod metrics;
pub mod query;
pub mod rollups;
pub mod store;
pub mod summary;

pub use ingest::EVENTS_INGESTED;
pub use ingest::Usage;

/// The gauge of how far the daily rollups lag behind acknowledged events.
pub const AGGREGATION_LAG: &str = "tenantd_usage_aggregation_lag_seconds";
