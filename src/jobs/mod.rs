//! Background work that must run on one replica at a time. Every replica
//! runs the jobs; a PostgreSQL advisory lock lets one at a time do each
//! step (SQLite has a single process).

pub mod reaggregate;
pub mod usage_aggregation;
