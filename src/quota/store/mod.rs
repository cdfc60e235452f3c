//! Quota's SQL: plans, overrides and threshold crossings.

mod crossings;
mod overrides;
mod plans;
