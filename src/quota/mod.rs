//! Quotas: plans and their quota definitions, per-tenant overrides, the
//! checks, allocations and releases against the limiter's counters, and
//! Envoy's rate limit service.

pub mod grpc;
pub mod limiter;
pub mod metered;
pub mod overrides;
pub mod plan;
pub mod plans;
pub mod quotas;
pub mod ratelimit;
pub mod store;
pub mod warnings;
