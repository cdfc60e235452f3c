//! Background work the server runs, one replica at a time for each step:
//! every replica runs the jobs, and a PostgreSQL advisory lock lets one at a
//! time do each step (SQLite has a single process).

pub mod provisioning;
pub mod usage_aggregation;
