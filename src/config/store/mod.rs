//! Configuration's SQL: layer versions and the change log.

pub mod changes;
pub mod versions;
