//! Parsing the resource names of flags and their overrides from requests:
//! `flags/{flag}`, `plans/{plan}`, `tenants/{tenant}`, the listing parents
//! `plans/-` and `tenants/-`, and `{owner}/flagOverrides/{flag}`.

use crate::common::ids::TenantRef;
use crate::error::{Error, Result};
use crate::flags::flag::{Flag, OverrideParent, OwnerRef};
use crate::store::revision::Revisioned;

/// Parses `flags/{key}` from `field`.
pub fn parse_flag_name(name: &str, field: &str) -> Result<String> {
    Flag::parse_key(name, field, crate::flags::key::key)
}

/// Parses `plans/{plan}` or `tenants/{tenant}` from `field`.
pub fn parse_owner(name: &str, field: &str) -> Result<OwnerRef> {
    if name.starts_with("plans/") {
        return crate::quota::parse_plan_name(name, field).map(OwnerRef::Plan);
    }
    if name.starts_with("tenants/") {
        return TenantRef::parse_name(name, field).map(OwnerRef::Tenant);
    }
    Err(Error::invalid_field(
        field,
        "must be plans/{plan} or tenants/{tenant}",
    ))
}

/// Parses `plans/-`, `tenants/-` or one owner from `field`.
pub fn parse_override_parent(name: &str, field: &str) -> Result<OverrideParent> {
    match name {
        "plans/-" => Ok(OverrideParent::AllPlans),
        "tenants/-" => Ok(OverrideParent::AllTenants),
        other => parse_owner(other, field).map(OverrideParent::One),
    }
}

/// Parses `{owner}/flagOverrides/{flag}` from `field`.
pub fn parse_override_name(name: &str, field: &str) -> Result<(OwnerRef, String)> {
    let malformed = || {
        Error::invalid_field(
            field,
            "must be plans/{plan}/flagOverrides/{flag} or tenants/{tenant}/flagOverrides/{flag}",
        )
    };
    let (owner, key) = name.rsplit_once("/flagOverrides/").ok_or_else(malformed)?;
    let owner = parse_owner(owner, field)?;
    let mut violations = Vec::new();
    crate::flags::key::key(key, field, &mut violations);
    if !violations.is_empty() {
        return Err(Error::InvalidArgument(violations));
    }
    Ok((owner, key.to_owned()))
}
