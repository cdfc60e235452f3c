//! Quota's SQL: plans and overrides.

mod overrides;
mod plans;
