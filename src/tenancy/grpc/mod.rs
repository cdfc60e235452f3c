//! TenantService's handlers.

pub mod archive;
pub mod convert;
pub mod service;
