//! Quota override rows: one tenant's replacement limit for one quota.
//! Changes are conditional on the revision read, so concurrent setters
//! never overwrite each other silently.

use sea_orm::sea_query::ExprTrait;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use crate::common::ids::TenantId;
use crate::error::Result;
use crate::quota::quotas::QuotaOverride;
use crate::quota::store::plans::override_from_model;
use crate::store::Store;
use crate::store::audit::AuditRecord;
use crate::store::entities::quota_override;
use crate::store::scope::Scope;

impl Store {
    /// The override of `quota` for `tenant_id`, expired or not.
    pub async fn find_quota_override(
        &self,
        scope: Scope,
        tenant_id: TenantId,
        quota: &str,
    ) -> Result<Option<QuotaOverride>> {
        let txn = self.begin_in(scope).await?;
        let row = quota_override::Entity::find_by_id((tenant_id.as_uuid(), quota.to_owned()))
            .one(&txn)
            .await?;
        Self::end_read(txn).await?;
        Ok(row.map(override_from_model))
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
        let txn = self.begin_in(scope).await?;
        let model = to_active_model(next);
        let rows = match previous_revision {
            None => {
                let inserted = quota_override::Entity::insert(model)
                    .on_conflict_do_nothing()
                    .exec_without_returning(&txn)
                    .await?;
                match inserted {
                    sea_orm::TryInsertResult::Inserted(rows) => rows,
                    _ => 0,
                }
            }
            Some(revision) => {
                quota_override::Entity::update_many()
                    .set(model)
                    .filter(quota_override::Column::TenantId.eq(next.tenant_id.as_uuid()))
                    .filter(quota_override::Column::Quota.eq(next.quota.as_str()))
                    .filter(quota_override::Column::Revision.eq(revision))
                    .exec(&txn)
                    .await?
                    .rows_affected
            }
        };
        self.commit_if_changed(txn, rows, audit).await
    }

    /// Deletes `current` if it still has its revision; `false` otherwise.
    pub async fn delete_quota_override(
        &self,
        scope: Scope,
        current: &QuotaOverride,
        audit: AuditRecord,
    ) -> Result<bool> {
        let txn = self.begin_in(scope).await?;
        let deleted = quota_override::Entity::delete_many()
            .filter(quota_override::Column::TenantId.eq(current.tenant_id.as_uuid()))
            .filter(quota_override::Column::Quota.eq(current.quota.as_str()))
            .filter(quota_override::Column::Revision.eq(current.revision))
            .exec(&txn)
            .await?;
        self.commit_if_changed(txn, deleted.rows_affected, audit)
            .await
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
        let mut select = quota_override::Entity::find()
            .order_by_asc(quota_override::Column::TenantId)
            .order_by_asc(quota_override::Column::Quota)
            .limit(limit);
        if let Some(tenant_id) = tenant_id {
            select = select.filter(quota_override::Column::TenantId.eq(tenant_id.as_uuid()));
        }
        if let Some((tenant, quota)) = after {
            let tenant = tenant.as_uuid();
            select = select.filter(
                quota_override::Column::TenantId
                    .gt(tenant)
                    .or(quota_override::Column::TenantId
                        .eq(tenant)
                        .and(quota_override::Column::Quota.gt(quota))),
            );
        }
        let txn = self.begin_in(scope).await?;
        let rows = select.all(&txn).await?;
        Self::end_read(txn).await?;
        Ok(rows.into_iter().map(override_from_model).collect())
    }
}

fn to_active_model(value: &QuotaOverride) -> quota_override::ActiveModel {
    quota_override::ActiveModel {
        tenant_id: Set(value.tenant_id.as_uuid()),
        quota: Set(value.quota.clone()),
        limit: Set(value.limit.unwrap_or(0)),
        unlimited: Set(value.limit.is_none()),
        reason: Set(value.reason.clone()),
        expire_time: Set(value.expire_time),
        revision: Set(value.revision),
        create_time: Set(value.create_time),
        update_time: Set(value.update_time),
    }
}
