//! UsageService's handlers.

pub mod billing;
pub mod convert;
pub mod service;
