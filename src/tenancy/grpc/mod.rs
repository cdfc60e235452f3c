//! TenantService's handlers.

pub mod archive;
pub mod call;
pub mod convert;
pub mod service;
