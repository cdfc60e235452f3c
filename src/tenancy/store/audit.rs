//! Reading the audit log. Records are written by [`crate::store::insert_audit`]
//! inside each mutation's transaction; nothing updates or deletes them.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::common::ids::TenantId;
use crate::error::Result;
use crate::store::Store;
use crate::store::entities::audit_event;
use crate::store::scope::Scope;
use crate::tenancy::audit::{AuditEvent, AuditQuery};

impl Store {
    /// Audit events matching `query`, newest first.
    pub async fn list_audit_events(
        &self,
        scope: Scope,
        query: &AuditQuery,
    ) -> Result<Vec<AuditEvent>> {
        let mut select = audit_event::Entity::find()
            .order_by_desc(audit_event::Column::Id)
            .limit(query.limit);
        if let Some(tenant_id) = query.tenant_id {
            select = select.filter(audit_event::Column::TenantId.eq(tenant_id.as_uuid()));
        }
        if let Some(before) = query.before_id {
            select = select.filter(audit_event::Column::Id.lt(before));
        }
        if let Some(min) = query.min_id {
            select = select.filter(audit_event::Column::Id.gte(min));
        }
        if let Some(max) = query.max_id_exclusive {
            select = select.filter(audit_event::Column::Id.lt(max));
        }
        for action in &query.actions {
            select = select.filter(audit_event::Column::Action.eq(action.as_str()));
        }
        for actor in &query.actors {
            select = select.filter(audit_event::Column::Actor.eq(actor.as_str()));
        }
        for resource in &query.resources {
            select = select.filter(audit_event::Column::Resource.eq(resource.as_str()));
        }
        for request_id in &query.request_ids {
            select = select.filter(audit_event::Column::RequestId.eq(request_id.as_str()));
        }
        self.find_all(scope, select, |row| {
            Ok(AuditEvent {
                id: row.id,
                tenant_id: row.tenant_id.map(TenantId::from_uuid),
                actor: row.actor,
                action: row.action,
                resource: row.resource,
                request_id: row.request_id,
                before: row.before,
                after: row.after,
                create_time: row.create_time,
            })
        })
        .await
    }
}
