//! Flags' SQL: flag rows (a fleet-wide catalogue, [`definitions`]), plan
//! overrides (fleet-wide) and tenant overrides (tenant rows, under
//! row-level security; both in [`overrides`]). Every change is conditional
//! on the revision read and commits with its audit record.

pub mod definitions;
pub mod overrides;

use crate::flags::flag::{FlagType, OverrideOwner};

/// What ListFlags filters on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlagFilter {
    /// Only flags with this `enabled`.
    pub enabled: Option<bool>,
    /// Only flags of this type.
    pub value_type: Option<FlagType>,
}

/// Which overrides a listing reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OverrideSet {
    /// Every plan's.
    AllPlans,
    /// Every tenant's.
    AllTenants,
    /// One owner's.
    One(OverrideOwner),
}
