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

pub use ingest::Usage;
