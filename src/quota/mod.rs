//! Quotas: plans with their quota definitions and service level
//! objectives, per-tenant overrides, the
//! checks, allocations and releases against the limiter's counters, the
//! warning thresholds they cross (announced once per period), and
//! Envoy's rate limit service.

pub mod charge;
pub mod crossings;
pub mod grpc;
pub mod limit;
pub mod limiter;
pub mod metered;
pub mod objectives;
pub mod overrides;
pub mod plan;
pub mod plans;
pub mod quotas;
pub mod ratelimit;
pub mod store;
pub mod warnings;

pub use charge::QUOTA_DECISIONS;
pub use limit::Limit;
pub use limiter::LIMITER_DURATION;
pub use metered::is_metered;
pub use objectives::ServiceObjectives;
pub use plan::Plan;
pub use plan::QuotaKind;
pub use plan::QuotaPeriod;
pub use plan::is_quota_key;
pub use plan::parse_plan_name;
pub use plans::Plans;
pub use quotas::QuotaOutcome;
pub use quotas::Quotas;
