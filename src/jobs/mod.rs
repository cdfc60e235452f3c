//! Background work that must run on one replica at a time. Every replica
//! runs the jobs; a PostgreSQL advisory lock lets one at a time do each
//! step (SQLite has a single process). The operator commands that drive
//! long runs of the same work (rollout, reaggregation, tenant archive
//! files) live here too.

pub mod provisioning;
pub mod reaggregate;
pub mod rollout;
pub mod tenant_archive;
pub mod tenant_purge;
pub mod usage_aggregation;
