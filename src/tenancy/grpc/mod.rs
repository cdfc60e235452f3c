//! TenantService's handlers.

pub mod archive;
pub mod service;
