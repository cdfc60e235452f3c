//! Control-plane schema migrations for tenantd, for SQLite and PostgreSQL.
//!
//! Each migration is a module `mNNNN_*`, applied in order by [`Migrator`] and
//! recorded in `seaql_migrations`. Migrations are append-only: a released
//! migration is never edited, a new one is added instead.
//!
//! Migrations are written expand-then-contract, because the release before
//! keeps serving the migrated database during a rolling upgrade and after a
//! rollback (tenantd starts on a database carrying migrations newer than
//! its own): a migration only adds what the previous release can ignore
//! (tables, nullable or defaulted columns, indexes it does not depend on),
//! and a column or table a release stops using is dropped by a migration
//! of the release after it.
//!
//! Unique indexes have stable names (`ux_…`) because the storage layer
//! recognises which one a conflict hit by its name (PostgreSQL) or its
//! columns (SQLite).

pub use sea_orm_migration::prelude::*;

mod isolation;
mod m0001_control_plane;
mod m0002_api_keys;
mod m0003_tenant_isolation;
mod m0004_usage;
mod m0005_quota;
mod m0006_config;
mod m0009_usage_aggregation;
mod m0012_usage_alerts;
mod m0013_flags;
mod m0014_config_changes;
mod m0015_isolation;
mod m0016_usage_batch_policy;
mod m0017_usage_unique_values;
mod m0018_page_tokens_and_domain_claims;
mod m0019_tenant_identity;
mod m0020_service_levels;
mod m0021_events;
mod m0022_webhooks;
mod m0024_provisioning_progress;
mod m0025_quota_threshold_crossings;

/// Applies tenantd's control-plane migrations.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_control_plane::Migration),
            Box::new(m0002_api_keys::Migration),
            Box::new(m0003_tenant_isolation::Migration),
            Box::new(m0004_usage::Migration),
            Box::new(m0005_quota::Migration),
            Box::new(m0006_config::Migration),
            Box::new(m0009_usage_aggregation::Migration),
            Box::new(m0012_usage_alerts::Migration),
            Box::new(m0013_flags::Migration),
            Box::new(m0014_config_changes::Migration),
            Box::new(m0015_isolation::Migration),
            Box::new(m0016_usage_batch_policy::Migration),
            Box::new(m0017_usage_unique_values::Migration),
            Box::new(m0018_page_tokens_and_domain_claims::Migration),
            Box::new(m0019_tenant_identity::Migration),
            Box::new(m0020_service_levels::Migration),
            Box::new(m0021_events::Migration),
            Box::new(m0022_webhooks::Migration),
            Box::new(m0024_provisioning_progress::Migration),
            Box::new(m0025_quota_threshold_crossings::Migration),
        ]
    }
}
