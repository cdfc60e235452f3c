//! TenantService's handlers.

pub mod archive;
pub mod call;
pub mod convert;
pub mod patch;
pub mod resolve;
pub mod service;
