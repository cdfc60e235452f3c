//! The operator commands that run once and exit: template rollout, tenant
//! purge, tenant archive files and usage reaggregation.

pub mod reaggregate;
pub mod rollout;
pub mod tenant_archive;
pub mod tenant_purge;
