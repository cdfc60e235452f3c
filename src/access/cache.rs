//! The gate's cached answers: API keys by prefix, tenants by id and which
//! tenant a target names, each dropped on a change to its tenant.

use std::sync::Arc;

use crate::access::api_key::ApiKey;
use crate::access::resolve::{ResolveTarget, ResolvedBy};
use crate::common::cache::Answers;
use crate::common::ids::TenantId;
use crate::store::changefeed::Change;
use crate::tenancy::Tenant;

/// The gate's cached answers, each dropped on a change to its tenant.
/// Keys and tenants are kept as `Arc`s: every call reads them, and a hit
/// then costs a reference count rather than a copy of every field.
#[derive(Debug)]
pub(crate) struct GateCache {
    /// API keys by prefix.
    pub(crate) keys: Answers<String, Arc<ApiKey>>,
    /// Tenants by id.
    pub(crate) tenants: Answers<TenantId, Arc<Tenant>>,
    /// Which tenant a host or slug names (an id names its own without a
    /// read, so it is not cached).
    pub(crate) targets: Answers<ResolveTarget, (TenantId, ResolvedBy)>,
}

impl GateCache {
    /// Empty, with answers trusted for `ttl`.
    pub(crate) fn new(ttl: std::time::Duration) -> Self {
        Self {
            keys: Answers::new("api_keys", ttl, |key| Some(key.tenant_id)),
            tenants: Answers::new("tenants", ttl, |tenant| Some(tenant.id)),
            targets: Answers::new("tenant_targets", ttl, |(id, _)| Some(*id)),
        }
    }

    /// Drops what `change` may have made wrong.
    pub(crate) fn invalidate(&self, change: Change) {
        self.keys.invalidate(change);
        self.tenants.invalidate(change);
        self.targets.invalidate(change);
    }
}
