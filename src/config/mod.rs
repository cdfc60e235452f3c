//! Configuration: each tenant's effective configuration as layers
//! (defaults, plan, tenant), validated against the schema, versioned with
//! history and rollback, and watched.

pub mod change;
pub mod configs;
pub mod grpc;
pub mod layered;
pub mod patch;
pub mod schema;
pub mod store;
pub mod watch;

pub use change::ChangeSubject;
pub use change::FlagScope;
pub use grpc::convert::json_of;
