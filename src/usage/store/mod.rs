//! Usage's SQL: events, rollups and their aggregation, alerts, exports.

pub mod aggregation;
mod alerts;
mod events;
mod export;
mod rollup_statements;
