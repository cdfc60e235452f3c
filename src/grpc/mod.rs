//! gRPC adapters: one file per proto service, plus the conversions between
//! proto messages and domain values.

pub mod api_keys;
pub mod codec;
pub mod config_convert;
pub mod config_service;
pub mod config_watch;
pub mod context;
pub mod convert;
mod flag_context;
pub mod flag_convert;
pub mod flag_encode;
pub mod flag_service;
pub mod fuzzing;
pub mod origin;
pub mod quota_call;
pub mod quota_convert;
pub mod quota_service;
pub mod ratelimit_service;
pub mod tenant_archive;
pub mod tenant_service;
pub mod usage_billing;
pub mod usage_convert;
pub mod usage_service;
mod wire_scan;
