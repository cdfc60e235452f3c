//! Tenancy: tenants and their lifecycle, custom domains, the audit log's
//! reads, SCHEMA tenants' provisioning, tenant archives, and the door
//! GetTenantHealth answers through ([`TenantHealthSource`]).

pub mod archive;
pub mod audit;
pub mod custom_domain;
pub mod dns;
pub mod domains;
pub mod grpc;
pub mod health;
pub mod isolation;
pub mod lifecycle;
mod lookup;
pub mod onboarding;
pub mod progress;
pub mod provision;
pub mod provisioning;
pub mod source_ranges;
pub mod state;
pub mod store;
pub mod tenant;
pub mod tenant_archive;
pub mod tenants;
pub mod verification;

pub(crate) use grpc::convert::isolation_model;
pub(crate) use grpc::convert::requested_isolation;
pub use health::TenantHealthSource;
pub use isolation::IsolationModel;
pub use provision::{PROVISIONING_DURATION, PROVISIONING_FAILURES};
pub use state::TenantState;
pub use tenant::Tenant;
pub use tenant::truncate_to_micros;
pub use tenants::Tenants;
pub(crate) use tenants::now;
pub(crate) use tenants::snapshot;
