//! QuotaService's handlers and Envoy's rate limit service.

pub mod call;
pub mod convert;
pub mod outcome;
pub mod ratelimit;
pub mod service;
