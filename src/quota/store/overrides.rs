//! Quota override rows: one tenant's replacement limit for one quota.
//! Changes are conditional on the revision read, so concurrent setters
//! never overwrite each other silently.

use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use crate::common::ids::TenantId;
use crate::error::Result;
use crate::quota::quotas::QuotaOverride;
use crate::quota::store::plans::override_from_model;
use crate::store::Store;
use crate::store::audit::AuditRecord;
use crate::store::entities::quota_override;
use crate::store::read::Paging;
use crate::store::scope::Scope;
use crate::store::write::put_row;

impl Store {
    /// The override of `quota` for `tenant_id`, expired or not.
    pub async fn find_quota_override(
        &self,
        scope: Scope,
        tenant_id: TenantId,
        quota: &str,
    ) -> Result<Option<QuotaOverride>> {
        let select = quota_override::Entity::find_by_id((tenant_id.as_uuid(), quota.to_owned()));
        self.find_one(scope, select, override_from_model).await
    }

    /// Stores `next`: inserted when `previous_revision` is `None`, else
    /// replacing the row only while it still has that revision. `false`
    /// when another writer got there first (nothing is written then).
    pub async fn put_quota_override(
        &self,
        scope: Scope,
        next: &QuotaOverride,
        previous_revision: Option<i64>,
        audit: AuditRecord,
    ) -> Result<bool> {
        let row = to_active_model(next);
        let replacing = previous_revision.map(|revision| at_revision(next, revision));
        self.write_if_changed(scope, audit, async |txn| put_row(txn, row, replacing).await)
            .await
    }

    /// Deletes `current` if it still has its revision; `false` otherwise.
    pub async fn delete_quota_override(
        &self,
        scope: Scope,
        current: &QuotaOverride,
        audit: AuditRecord,
    ) -> Result<bool> {
        let delete = quota_override::Entity::delete_many()
            .filter(at_revision(current, current.stamps.revision));
        self.exec_if_changed(scope, audit, delete).await
    }

    /// Overrides of `tenant_id` (every tenant's when `None`) after `after`
    /// (tenant, quota), ordered by tenant then quota.
    pub async fn list_quota_overrides(
        &self,
        scope: Scope,
        tenant_id: Option<TenantId>,
        after: Option<(TenantId, String)>,
        limit: u64,
    ) -> Result<Vec<QuotaOverride>> {
        use quota_override::Column;
        let after = after.map(|(tenant, quota)| (tenant.as_uuid(), quota));
        let mut select = quota_override::Entity::find()
            .order_by_asc(Column::TenantId)
            .order_by_asc(Column::Quota)
            .limit(limit)
            .after_pair((Column::TenantId, Column::Quota), after);
        if let Some(tenant_id) = tenant_id {
            select = select.filter(Column::TenantId.eq(tenant_id.as_uuid()));
        }
        self.find_all(scope, select, override_from_model).await
    }
}

/// The row of `value`'s tenant and quota while it still has `revision`:
/// what conditional changes match, so a concurrent writer's row is left be.
fn at_revision(value: &QuotaOverride, revision: i64) -> Condition {
    Condition::all()
        .add(quota_override::Column::TenantId.eq(value.tenant_id.as_uuid()))
        .add(quota_override::Column::Quota.eq(value.quota.as_str()))
        .add(quota_override::Column::Revision.eq(revision))
}

fn to_active_model(value: &QuotaOverride) -> quota_override::ActiveModel {
    quota_override::ActiveModel {
        tenant_id: Set(value.tenant_id.as_uuid()),
        quota: Set(value.quota.clone()),
        limit: Set(value.limit.unwrap_or(0)),
        unlimited: Set(value.limit.is_none()),
        reason: Set(value.reason.clone()),
        expire_time: Set(value.expire_time),
        revision: Set(value.stamps.revision),
        create_time: Set(value.stamps.create_time),
        update_time: Set(value.stamps.update_time),
    }
}
