//! Feature flags: definitions, plan and tenant overrides, and their
//! evaluation per tenant and per user.

pub mod directory;
pub mod eval;
pub mod flag;
pub mod grpc;
pub mod overrides;
pub mod reads;
mod semver;
pub mod store;
pub mod validate;
