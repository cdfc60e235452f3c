//! sea-orm entities, one per control-plane table. Only `storage` sees them;
//! the rest of the crate works with the domain types they convert to.

pub mod api_key;
pub mod audit_event;
pub mod flag;
pub mod idempotency_key;
pub mod plan;
pub mod plan_flag_override;
pub mod quota_override;
pub mod tenant;
pub mod tenant_domain;
pub mod tenant_flag_override;
pub mod usage_alert;
pub mod usage_event;
pub mod usage_metric;
pub mod usage_rollup;
pub mod usage_unique_value;
