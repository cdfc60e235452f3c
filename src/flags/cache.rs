//! Flag evaluation's cached answers, dropped on change like every owner's
//! (see [`crate::common::cache`]).

use std::sync::Arc;

use crate::common::cache::Answers;
use crate::common::ids::TenantId;
use std::collections::{BTreeMap, HashMap};

use crate::flags::eval::TenantFacts;
use crate::flags::flag::{Flag, OverrideSpec};
use crate::store::changefeed::Change;

/// Flag evaluation's cached answers: the fleet's catalogue, and each
/// tenant's overrides and attributes.
#[derive(Debug)]
pub struct FlagCache {
    /// The catalogue: fleet-wide, so a tenant's change leaves it be.
    pub(crate) catalogue: Answers<(), Arc<FlagCatalogue>>,
    /// Each tenant's overrides and attributes.
    pub(crate) tenants: Answers<TenantId, Arc<TenantFlags>>,
}

impl FlagCache {
    /// Empty, with answers trusted for `ttl`.
    pub fn new(ttl: std::time::Duration) -> Self {
        Self {
            catalogue: Answers::new("flag_catalogue", ttl, |_| None),
            tenants: Answers::new("tenant_flags", ttl, |flags| Some(flags.tenant_id)),
        }
    }

    /// Drops what `change` may have made wrong.
    pub fn invalidate(&self, change: Change) {
        self.catalogue.invalidate(change);
        self.tenants.invalidate(change);
    }
}

/// Every flag and every plan's overrides, as evaluation reads them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlagCatalogue {
    /// Flags by key.
    pub flags: BTreeMap<String, Flag>,
    /// Plan overrides by plan, then flag key.
    pub plan_overrides: HashMap<String, HashMap<String, OverrideSpec>>,
}

/// What evaluation reads of one tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantFlags {
    /// The tenant.
    pub tenant_id: TenantId,
    /// Its plan.
    pub plan: String,
    /// Its `tenant.*` attributes.
    pub facts: TenantFacts,
    /// Its overrides by flag key.
    pub overrides: HashMap<String, OverrideSpec>,
}
