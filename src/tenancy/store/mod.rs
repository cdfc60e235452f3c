//! Tenancy's SQL: tenants, domains, audit reads, archives and purges, on
//! the foundation's scoped transactions.

pub mod archive;
mod audit;
mod domains;
pub mod purge;
pub mod tenants;
