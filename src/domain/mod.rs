//! Domain logic: typed ids, validation, the tenant lifecycle and the
//! directory that applies it. No tonic and no SQL here: handlers call in
//! with validated values, and the directory calls [`crate::storage`].

pub mod access;
pub mod api_key;
pub mod api_keys;
pub mod archive;
pub mod audit;
pub mod cache;
pub mod config;
pub mod config_change;
pub mod config_schema;
pub mod config_watch;
pub mod configs;
pub mod context;
pub mod custom_domain;
pub mod domains;
pub mod filter;
pub mod flag;
pub mod flag_eval;
pub mod flag_overrides;
pub mod flag_reads;
mod flag_semver;
pub mod flag_validate;
pub mod flags;
pub mod gate;
pub mod idempotency;
pub mod ids;
pub mod isolation;
pub mod key_uses;
pub mod metric;
pub mod metrics;
pub mod paging;
pub mod plan;
pub mod plans;
pub mod provision;
pub mod quota;
pub mod quota_metered;
pub mod quota_overrides;
pub mod quota_warnings;
pub mod ratelimit;
pub mod resolve;
pub mod tenant;
pub mod tenant_archive;
pub mod tenants;
mod tokens;
pub mod usage;
pub mod usage_alerts;
pub mod usage_csv;
pub mod usage_delta;
pub mod usage_event;
pub mod usage_export;
pub mod usage_query;
pub mod usage_rollups;
pub mod usage_summary;
pub mod validate;
pub mod verification;

/// Lowercase hexadecimal of `bytes`: how digests, etags and key material
/// are spelled everywhere in tenantd.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
