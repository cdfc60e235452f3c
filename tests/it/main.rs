//! The integration suite: one binary that starts the real server on
//! `127.0.0.1:0` and calls it over real gRPC channels, against SQLite and
//! PostgreSQL alike. Each test gets its own database, so tests run in
//! parallel, and its own tenants, so isolation between tests is free.

mod support;

mod ambiguous_credentials;
mod api_keys;
mod audit;
mod blast_radius;
mod bulkheads;
mod config;
mod config_schema;
mod config_watch;
mod config_watch_flags;
mod context;
mod context_changes;
mod contract;
mod domain_claims;
mod domains;
mod failure_contract;
mod filter_limits;
mod flags;
mod flags_eval;
mod flags_replicas;
mod isolation;
mod lifecycle;
mod listing;
mod page_tokens;
mod process;
mod provisioning;
mod provisioning_concurrency;
mod provisioning_plans;
mod provisioning_rights;
mod provisioning_rollout;
mod purge_tables;
mod quota;
mod quota_bounds;
mod quota_cache;
mod quota_cluster;
mod quota_failure;
mod quota_metered;
mod quota_overflow;
mod quota_overrides;
mod quota_plans;
mod quota_warnings;
mod ratelimit;
mod resolve;
mod rls;
mod robustness;
mod robustness_flags;
mod tenant_export;
mod tenant_export_cli;
mod tenant_export_pool;
mod tenants;
mod upgrades;
mod usage;
mod usage_alerts;
mod usage_batch_rls;
mod usage_billing;
mod usage_delivery;
mod usage_exactly_once;
mod usage_export_csv;
mod usage_hostile;
mod usage_reaggregate;
mod usage_replicas;
mod usage_unique_month;
