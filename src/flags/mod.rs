//! Feature flags: definitions, plan and tenant overrides, and their
//! evaluation per tenant and per user.

pub mod bucket;
pub mod cache;
pub mod directory;
pub mod eval;
pub mod flag;
pub mod grpc;
pub mod key;
pub mod overrides;
pub mod reads;
mod semver;
pub mod store;
pub mod validate;

pub use directory::Flags;
pub use flag::Flag;
pub use flag::OverrideOwner;
pub use grpc::service::FlagApi;
