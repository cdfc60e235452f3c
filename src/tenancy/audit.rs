//! The audit trail: who did what to which resource, when, under which
//! request id. Every mutation writes one [`AuditRecord`](crate::store::audit::AuditRecord) in the same
//! transaction as the change itself, so the log and the data never disagree.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::common::filter;
use crate::common::filter::{Comparison, Op};
use crate::common::ids::{TenantId, min_v7_at_or_after};
use crate::error::{Error, Result};

/// A recorded change as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// UUIDv7 made from `create_time`.
    pub id: Uuid,
    /// The tenant concerned.
    pub tenant_id: Option<TenantId>,
    /// Who acted.
    pub actor: String,
    /// The RPC.
    pub action: String,
    /// The resource changed.
    pub resource: String,
    /// The call's request id.
    pub request_id: String,
    /// Before the change.
    pub before: Option<serde_json::Value>,
    /// After the change.
    pub after: Option<serde_json::Value>,
    /// When it was committed.
    pub create_time: DateTime<Utc>,
}

impl AuditEvent {
    /// `tenants/{tenant}/auditEvents/{id}`, or `tenants/-/…` when it concerns
    /// no single tenant.
    pub fn resource_name(&self) -> String {
        let tenant = self
            .tenant_id
            .map(|id| id.to_string())
            .unwrap_or_else(|| "-".to_owned());
        format!("tenants/{tenant}/auditEvents/{}", self.id)
    }
}

/// What to list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this tenant's events; all tenants' when `None`.
    pub tenant_id: Option<TenantId>,
    /// Only events older than this id (the previous page's last).
    pub before_id: Option<Uuid>,
    /// Only events with an id at or above this (a `create_time` lower bound).
    pub min_id: Option<Uuid>,
    /// Only events with an id below this (a `create_time` upper bound).
    pub max_id_exclusive: Option<Uuid>,
    /// Exact matches on `action`.
    pub actions: Vec<String>,
    /// Exact matches on `actor`.
    pub actors: Vec<String>,
    /// Exact matches on `resource`.
    pub resources: Vec<String>,
    /// Exact matches on `request_id`.
    pub request_ids: Vec<String>,
    /// Rows to fetch.
    pub limit: u64,
}

const AUDIT_FILTER_FIELDS: &str =
    "action, actor, resource, request_id (=) and create_time (>=, >, <=, <)";

/// Applies a parsed filter to a query. `create_time` bounds become UUIDv7
/// bounds, so they compare at millisecond precision on every backend.
pub fn apply_filter(query: &mut AuditQuery, comparisons: &[Comparison], field: &str) -> Result<()> {
    for comparison in comparisons {
        match (comparison.field.as_str(), comparison.op) {
            ("action", Op::Eq) => query.actions.push(comparison.value.clone()),
            ("actor", Op::Eq) => query.actors.push(comparison.value.clone()),
            ("resource", Op::Eq) => query.resources.push(comparison.value.clone()),
            ("request_id", Op::Eq) => query.request_ids.push(comparison.value.clone()),
            ("create_time", op) if op != Op::Eq => {
                let at = DateTime::parse_from_rfc3339(&comparison.value)
                    .map_err(|_| {
                        Error::invalid_field(
                            field,
                            "create_time must be compared with an RFC 3339 time",
                        )
                    })?
                    .with_timezone(&Utc);
                let millisecond = chrono::Duration::milliseconds(1);
                let floor = DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at);
                match op {
                    Op::Ge => raise(&mut query.min_id, min_v7_at_or_after(at)),
                    Op::Gt => raise(&mut query.min_id, min_v7_at_or_after(floor + millisecond)),
                    Op::Le => lower(
                        &mut query.max_id_exclusive,
                        min_v7_at_or_after(floor + millisecond),
                    ),
                    Op::Lt => lower(&mut query.max_id_exclusive, min_v7_at_or_after(at)),
                    Op::Eq => {}
                }
            }
            _ => return Err(filter::unsupported(comparison, field, AUDIT_FILTER_FIELDS)),
        }
    }
    Ok(())
}

fn raise(bound: &mut Option<Uuid>, candidate: Uuid) {
    *bound = Some(bound.map_or(candidate, |current| current.max(candidate)));
}

fn lower(bound: &mut Option<Uuid>, candidate: Uuid) {
    *bound = Some(bound.map_or(candidate, |current| current.min(candidate)));
}

/// Whose audit trail to read.
#[derive(Debug, Clone, Copy)]
pub enum AuditScope<'a> {
    /// Every tenant's, and tenantd's own.
    AllTenants(&'a crate::access::PlatformScope),
    /// One tenant's.
    Tenant(&'a crate::access::TenantScope),
}

impl crate::tenancy::tenants::Tenants {
    /// A page of audit events under `parent`, newest first, and the next
    /// token.
    pub async fn list_audit_events(
        &self,
        of: AuditScope<'_>,
        page_size: u64,
        page_token: &str,
        filter_text: &str,
    ) -> Result<(Vec<AuditEvent>, String)> {
        // The filter's limits are checked before any other work.
        let comparisons = filter::parse(filter_text, "filter")?;
        // The trail outlives a purge, so the tenant is not looked up.
        let (scope, tenant_id) = match of {
            AuditScope::AllTenants(platform) => (platform.into(), None),
            AuditScope::Tenant(scope) => (scope.into(), Some(scope.tenant_id())),
        };
        let parent_key = tenant_id.map(|id| id.to_string()).unwrap_or_default();
        let list = async |before: Option<String>, limit| {
            let before_id = before
                .map(|key| crate::common::ids::parse_canonical_uuid(&key, "page_token"))
                .transpose()?;
            let mut query = AuditQuery {
                tenant_id,
                before_id,
                limit,
                ..AuditQuery::default()
            };
            apply_filter(&mut query, &comparisons, "filter")?;
            self.store.list_audit_events(scope, &query).await
        };
        let query = [parent_key.as_str(), filter_text];
        let pages = self.store.page_tokens();
        pages
            .page(&query, page_size, page_token, list, |event| {
                event.id.to_string()
            })
            .await
    }
}
