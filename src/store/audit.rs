//! The record every mutation writes in its own transaction: who did what
//! to which resource, under which request id.

use crate::common::ids::TenantId;

/// Where a change comes from: the caller and the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Who acts: `admin:NAME`, `service:NAME` or `key:PREFIX`.
    pub actor: String,
    /// The call's request id (`x-request-id`).
    pub request_id: String,
}

impl Origin {
    /// tenantd's own background work, as `actor` (`system:…`): no call,
    /// so no request id.
    pub fn system(actor: &str) -> Self {
        Self {
            actor: actor.to_owned(),
            request_id: String::new(),
        }
    }
}

/// One change to record.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// The tenant concerned.
    pub tenant_id: Option<TenantId>,
    /// Who acted.
    pub actor: String,
    /// The RPC, e.g. `SuspendTenant`.
    pub action: &'static str,
    /// The resource name changed.
    pub resource: String,
    /// The call's request id.
    pub request_id: String,
    /// The resource before the change; `None` for creations.
    pub before: Option<serde_json::Value>,
    /// The resource after the change; `None` for removals.
    pub after: Option<serde_json::Value>,
}

impl AuditRecord {
    /// A record of `action` by `origin` on `resource` of `tenant_id`.
    pub fn new(
        origin: &Origin,
        action: &'static str,
        tenant_id: TenantId,
        resource: String,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) -> Self {
        Self {
            tenant_id: Some(tenant_id),
            ..Self::platform(origin, action, resource, before, after)
        }
    }

    /// A record of `action` by `origin` on a platform-wide `resource` (a
    /// plan, a metric), which belongs to no tenant.
    pub fn platform(
        origin: &Origin,
        action: &'static str,
        resource: String,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) -> Self {
        Self {
            tenant_id: None,
            actor: origin.actor.clone(),
            action,
            resource,
            request_id: origin.request_id.clone(),
            before,
            after,
        }
    }
}
