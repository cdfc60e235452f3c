//! Removing a purged tenant's control-plane rows. The audit trail stays:
//! audit rows have no foreign key to tenants, and the purge itself is
//! audited in the same transaction.

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::common::ids::TenantId;
use crate::error::Result;
use crate::store::Store;
use crate::store::audit::AuditRecord;
use crate::store::entities::{idempotency_key, tenant};
use crate::store::scope::Scope;
use crate::store::write::ChangeRows;

/// Every table holding a tenant's rows by `tenant_id`, besides `tenants`
/// and `audit_events`. A table added later with tenant rows belongs here.
pub const TENANT_TABLES: &[&str] = &[
    "tenant_domains",
    "api_keys",
    "quota_overrides",
    "config_versions",
    "config_changes",
    "tenant_flag_overrides",
    "quota_threshold_crossings",
    "usage_alerts",
    "usage_rollups",
    "usage_unique_values",
    "usage_events",
    "tenant_call_minutes",
    // Its lifecycle events carry its data; the purge's own event, written
    // with the purge's audit record after these deletes, is what remains.
    "events",
    // The tenant's webhook endpoints go with it (the fleet's endpoints
    // still receive its `tenant.purged`).
    "webhook_attempts",
    "webhook_deliveries",
    "webhook_endpoints",
];

impl Store {
    /// Deletes the tenant's rows everywhere but the audit log, and the
    /// tenant itself if it still has `revision`, writing `audit` in the same
    /// transaction. `false` when the tenant changed meanwhile (nothing is
    /// deleted then).
    pub async fn purge_tenant(
        &self,
        scope: Scope,
        tenant_id: TenantId,
        revision: i64,
        audit: AuditRecord,
    ) -> Result<bool> {
        self.write_if_changed(scope, audit, async |txn| {
            let deleted = tenant::Entity::delete_many()
                .filter(tenant::Column::Id.eq(tenant_id.as_uuid()))
                .filter(tenant::Column::Revision.eq(revision))
                .rows_changed(txn)
                .await?;
            // The tenant changed meanwhile: nothing else is deleted.
            if deleted == 0 {
                return Ok(0);
            }
            for table in TENANT_TABLES {
                let statement = Query::delete()
                    .from_table(Alias::new(*table))
                    .and_where(Expr::col(Alias::new("tenant_id")).eq(tenant_id.as_uuid()))
                    .to_owned();
                txn.execute(&statement).await?;
            }
            idempotency_key::Entity::delete_many()
                .filter(idempotency_key::Column::Resource.eq(tenant_id.resource_name()))
                .exec(txn)
                .await?;
            Ok(deleted)
        })
        .await
    }
}
