//! Flag rows (a fleet-wide catalogue), plan overrides (fleet-wide) and
//! tenant overrides (tenant rows, under row-level security). Every change
//! is conditional on the revision read and commits with its audit record.

use sea_orm::sea_query::ExprTrait;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use crate::common::ids::TenantId;
use crate::config::override_scope;
use crate::config::{ChangeSubject, FlagScope};
use crate::error::{Error, Result};
use crate::flags::flag::{Flag, FlagOverride, FlagSpec, FlagType, OverrideOwner, OverrideSpec};
use crate::store::Store;
use crate::store::audit::AuditRecord;
use crate::store::entities::{flag, plan_flag_override, tenant_flag_override};
use crate::store::idempotency::IdempotencyEntry;
use crate::store::idempotency::insert_idempotency;
use crate::store::scope::Scope;

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

impl Store {
    /// Inserts a new flag, its idempotency key and its audit record in one
    /// transaction.
    pub async fn insert_flag(
        &self,
        scope: Scope,
        new: &Flag,
        idempotency: Option<&IdempotencyEntry>,
        audit: AuditRecord,
    ) -> Result<()> {
        let txn = self.begin_in(scope).await?;
        insert_idempotency(&txn, idempotency, new.create_time).await?;
        flag_model(new)?.insert(&txn).await?;
        self.record_flag_change(&txn, &new.key, FlagScope::Fleet)
            .await?;
        self.commit_with_audit(txn, audit).await
    }

    /// The flag `key`, if it exists.
    pub async fn find_flag(&self, scope: Scope, key: &str) -> Result<Option<Flag>> {
        let txn = self.begin_in(scope).await?;
        let row = flag::Entity::find_by_id(key.to_owned()).one(&txn).await?;
        Self::end_read(txn).await?;
        row.map(flag_from_model).transpose()
    }

    /// At most `limit` flags after `after` matching `filter`, by key.
    pub async fn list_flags(
        &self,
        scope: Scope,
        filter: FlagFilter,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<Flag>> {
        let mut select = flag::Entity::find()
            .order_by_asc(flag::Column::Key)
            .limit(limit);
        if let Some(after) = after {
            select = select.filter(flag::Column::Key.gt(after));
        }
        if let Some(enabled) = filter.enabled {
            select = select.filter(flag::Column::Enabled.eq(enabled));
        }
        if let Some(value_type) = filter.value_type {
            select = select.filter(flag::Column::ValueType.eq(value_type.as_str()));
        }
        let txn = self.begin_in(scope).await?;
        let rows = select.all(&txn).await?;
        Self::end_read(txn).await?;
        rows.into_iter().map(flag_from_model).collect()
    }

    /// Every flag and every plan override: what evaluation caches.
    pub async fn flag_catalogue(&self, scope: Scope) -> Result<(Vec<Flag>, Vec<FlagOverride>)> {
        let txn = self.begin_in(scope).await?;
        let flags = flag::Entity::find()
            .order_by_asc(flag::Column::Key)
            .all(&txn)
            .await?;
        let overrides = plan_flag_override::Entity::find().all(&txn).await?;
        Self::end_read(txn).await?;
        let flags = flags
            .into_iter()
            .map(flag_from_model)
            .collect::<Result<_>>()?;
        let overrides = overrides
            .into_iter()
            .map(plan_override_from_model)
            .collect::<Result<_>>()?;
        Ok((flags, overrides))
    }

    /// Replaces the flag if it still has `previous_revision`; `false` when
    /// it changed meanwhile (nothing is written then).
    pub async fn replace_flag(
        &self,
        scope: Scope,
        previous_revision: i64,
        next: &Flag,
        audit: AuditRecord,
    ) -> Result<bool> {
        let txn = self.begin_in(scope).await?;
        let updated = flag::Entity::update_many()
            .set(flag_model(next)?)
            .filter(flag::Column::Key.eq(next.key.as_str()))
            .filter(flag::Column::Revision.eq(previous_revision))
            .exec(&txn)
            .await?;
        // Rolled back with the rest when nothing was updated.
        self.record_flag_change(&txn, &next.key, FlagScope::Fleet)
            .await?;
        self.commit_if_changed(txn, updated.rows_affected, audit)
            .await
    }

    /// Deletes the flag if it still has `revision`, with every override of
    /// it (the scope must be the platform's to reach every tenant's).
    pub async fn delete_flag(
        &self,
        scope: Scope,
        current: &Flag,
        audit: AuditRecord,
    ) -> Result<bool> {
        let txn = self.begin_in(scope).await?;
        let deleted = flag::Entity::delete_many()
            .filter(flag::Column::Key.eq(current.key.as_str()))
            .filter(flag::Column::Revision.eq(current.revision))
            .exec(&txn)
            .await?;
        plan_flag_override::Entity::delete_many()
            .filter(plan_flag_override::Column::Flag.eq(current.key.as_str()))
            .exec(&txn)
            .await?;
        tenant_flag_override::Entity::delete_many()
            .filter(tenant_flag_override::Column::Flag.eq(current.key.as_str()))
            .exec(&txn)
            .await?;
        let gone = ChangeSubject::FlagDeleted(current.key.clone());
        self.record_config_change(&txn, &gone).await?;
        self.commit_if_changed(txn, deleted.rows_affected, audit)
            .await
    }

    /// The override of `flag` by `owner`, if any.
    pub async fn find_flag_override(
        &self,
        scope: Scope,
        owner: &OverrideOwner,
        flag: &str,
    ) -> Result<Option<FlagOverride>> {
        let mut found = self
            .list_flag_overrides(
                scope,
                &OverrideSet::One(owner.clone()),
                Some(flag),
                None,
                Some(1),
            )
            .await?;
        Ok(found.pop())
    }

    /// The overrides of `tenant_id`, by flag key.
    pub async fn tenant_flag_overrides(
        &self,
        scope: Scope,
        tenant_id: TenantId,
    ) -> Result<Vec<FlagOverride>> {
        let owner = OverrideOwner::Tenant(tenant_id);
        self.list_flag_overrides(scope, &OverrideSet::One(owner), None, None, None)
            .await
    }

    /// Stores `next`: inserted when `previous_revision` is `None`, else
    /// replacing the row only while it still has that revision. `false`
    /// when another writer got there first (nothing is written then).
    pub async fn put_flag_override(
        &self,
        scope: Scope,
        next: &FlagOverride,
        previous_revision: Option<i64>,
        audit: AuditRecord,
    ) -> Result<bool> {
        let txn = self.begin_in(scope).await?;
        let document = serde_json::to_string(&next.spec).map_err(Error::internal)?;
        let rows = match &next.owner {
            OverrideOwner::Plan(plan) => {
                let model = plan_flag_override::ActiveModel {
                    plan: Set(plan.clone()),
                    flag: Set(next.flag.clone()),
                    document: Set(document),
                    revision: Set(next.revision),
                    create_time: Set(next.create_time),
                    update_time: Set(next.update_time),
                };
                put_plan_override(&txn, model, (plan, &next.flag), previous_revision).await?
            }
            OverrideOwner::Tenant(tenant_id) => {
                let model = tenant_flag_override::ActiveModel {
                    tenant_id: Set(tenant_id.as_uuid()),
                    flag: Set(next.flag.clone()),
                    document: Set(document),
                    revision: Set(next.revision),
                    create_time: Set(next.create_time),
                    update_time: Set(next.update_time),
                };
                put_tenant_override(&txn, model, (*tenant_id, &next.flag), previous_revision)
                    .await?
            }
        };
        self.record_flag_change(&txn, &next.flag, override_scope(&next.owner))
            .await?;
        self.commit_if_changed(txn, rows, audit).await
    }

    /// Deletes `current` if it still has its revision; `false` otherwise.
    pub async fn delete_flag_override(
        &self,
        scope: Scope,
        current: &FlagOverride,
        audit: AuditRecord,
    ) -> Result<bool> {
        let txn = self.begin_in(scope).await?;
        let rows = match &current.owner {
            OverrideOwner::Plan(plan) => {
                plan_flag_override::Entity::delete_many()
                    .filter(plan_flag_override::Column::Plan.eq(plan.as_str()))
                    .filter(plan_flag_override::Column::Flag.eq(current.flag.as_str()))
                    .filter(plan_flag_override::Column::Revision.eq(current.revision))
                    .exec(&txn)
                    .await?
                    .rows_affected
            }
            OverrideOwner::Tenant(tenant_id) => {
                tenant_flag_override::Entity::delete_many()
                    .filter(tenant_flag_override::Column::TenantId.eq(tenant_id.as_uuid()))
                    .filter(tenant_flag_override::Column::Flag.eq(current.flag.as_str()))
                    .filter(tenant_flag_override::Column::Revision.eq(current.revision))
                    .exec(&txn)
                    .await?
                    .rows_affected
            }
        };
        self.record_flag_change(&txn, &current.flag, override_scope(&current.owner))
            .await?;
        self.commit_if_changed(txn, rows, audit).await
    }

    /// The overrides of `set` (only of `flag` when given) after `after`
    /// (owner key, flag), ordered by owner then flag, at most `limit` when
    /// given. The owner key is the plan id or the tenant id's text.
    pub async fn list_flag_overrides(
        &self,
        scope: Scope,
        set: &OverrideSet,
        flag: Option<&str>,
        after: Option<(String, String)>,
        limit: Option<u64>,
    ) -> Result<Vec<FlagOverride>> {
        let txn = self.begin_in(scope).await?;
        let rows = match set {
            OverrideSet::AllPlans | OverrideSet::One(OverrideOwner::Plan(_)) => {
                list_plan_overrides(&txn, set, flag, after, limit).await?
            }
            OverrideSet::AllTenants | OverrideSet::One(OverrideOwner::Tenant(_)) => {
                list_tenant_overrides(&txn, set, flag, after, limit).await?
            }
        };
        Self::end_read(txn).await?;
        Ok(rows)
    }
}

async fn put_plan_override(
    txn: &DatabaseTransaction,
    model: plan_flag_override::ActiveModel,
    (plan, flag): (&str, &str),
    previous_revision: Option<i64>,
) -> Result<u64> {
    use plan_flag_override::{Column, Entity};
    let Some(revision) = previous_revision else {
        let inserted = Entity::insert(model)
            .on_conflict_do_nothing()
            .exec_without_returning(txn)
            .await?;
        return Ok(match inserted {
            sea_orm::TryInsertResult::Inserted(rows) => rows,
            _ => 0,
        });
    };
    Ok(Entity::update_many()
        .set(model)
        .filter(Column::Plan.eq(plan))
        .filter(Column::Flag.eq(flag))
        .filter(Column::Revision.eq(revision))
        .exec(txn)
        .await?
        .rows_affected)
}

async fn put_tenant_override(
    txn: &DatabaseTransaction,
    model: tenant_flag_override::ActiveModel,
    (tenant_id, flag): (TenantId, &str),
    previous_revision: Option<i64>,
) -> Result<u64> {
    use tenant_flag_override::{Column, Entity};
    let Some(revision) = previous_revision else {
        let inserted = Entity::insert(model)
            .on_conflict_do_nothing()
            .exec_without_returning(txn)
            .await?;
        return Ok(match inserted {
            sea_orm::TryInsertResult::Inserted(rows) => rows,
            _ => 0,
        });
    };
    Ok(Entity::update_many()
        .set(model)
        .filter(Column::TenantId.eq(tenant_id.as_uuid()))
        .filter(Column::Flag.eq(flag))
        .filter(Column::Revision.eq(revision))
        .exec(txn)
        .await?
        .rows_affected)
}

async fn list_plan_overrides(
    txn: &DatabaseTransaction,
    set: &OverrideSet,
    flag: Option<&str>,
    after: Option<(String, String)>,
    limit: Option<u64>,
) -> Result<Vec<FlagOverride>> {
    use plan_flag_override::{Column, Entity};
    let mut select = Entity::find()
        .order_by_asc(Column::Plan)
        .order_by_asc(Column::Flag);
    if let Some(limit) = limit {
        select = select.limit(limit);
    }
    if let OverrideSet::One(OverrideOwner::Plan(plan)) = set {
        select = select.filter(Column::Plan.eq(plan.as_str()));
    }
    if let Some(flag) = flag {
        select = select.filter(Column::Flag.eq(flag));
    }
    if let Some((owner, flag)) = after {
        select = select.filter(
            Column::Plan
                .gt(owner.clone())
                .or(Column::Plan.eq(owner).and(Column::Flag.gt(flag))),
        );
    }
    let rows = select.all(txn).await?;
    rows.into_iter().map(plan_override_from_model).collect()
}

async fn list_tenant_overrides(
    txn: &DatabaseTransaction,
    set: &OverrideSet,
    flag: Option<&str>,
    after: Option<(String, String)>,
    limit: Option<u64>,
) -> Result<Vec<FlagOverride>> {
    use tenant_flag_override::{Column, Entity};
    let mut select = Entity::find()
        .order_by_asc(Column::TenantId)
        .order_by_asc(Column::Flag);
    if let Some(limit) = limit {
        select = select.limit(limit);
    }
    if let OverrideSet::One(OverrideOwner::Tenant(tenant_id)) = set {
        select = select.filter(Column::TenantId.eq(tenant_id.as_uuid()));
    }
    if let Some(flag) = flag {
        select = select.filter(Column::Flag.eq(flag));
    }
    if let Some((owner, flag)) = after {
        let tenant = uuid::Uuid::parse_str(&owner).map_err(Error::internal)?;
        select = select.filter(
            Column::TenantId
                .gt(tenant)
                .or(Column::TenantId.eq(tenant).and(Column::Flag.gt(flag))),
        );
    }
    let rows = select.all(txn).await?;
    rows.into_iter().map(tenant_override_from_model).collect()
}

fn flag_model(flag: &Flag) -> Result<flag::ActiveModel> {
    Ok(flag::ActiveModel {
        key: Set(flag.key.clone()),
        value_type: Set(flag.value_type.as_str().to_owned()),
        enabled: Set(flag.spec.enabled),
        document: Set(serde_json::to_string(&flag.spec).map_err(Error::internal)?),
        revision: Set(flag.revision),
        create_time: Set(flag.create_time),
        update_time: Set(flag.update_time),
    })
}

fn flag_from_model(row: flag::Model) -> Result<Flag> {
    let value_type = FlagType::parse(&row.value_type)
        .ok_or_else(|| Error::internal(format!("unknown flag type {:?}", row.value_type)))?;
    let mut spec: FlagSpec = serde_json::from_str(&row.document).map_err(Error::internal)?;
    spec.enabled = row.enabled;
    Ok(Flag {
        key: row.key,
        value_type,
        spec,
        revision: row.revision,
        create_time: row.create_time,
        update_time: row.update_time,
    })
}

fn plan_override_from_model(row: plan_flag_override::Model) -> Result<FlagOverride> {
    let spec: OverrideSpec = serde_json::from_str(&row.document).map_err(Error::internal)?;
    Ok(FlagOverride {
        owner: OverrideOwner::Plan(row.plan),
        flag: row.flag,
        spec,
        revision: row.revision,
        create_time: row.create_time,
        update_time: row.update_time,
    })
}

fn tenant_override_from_model(row: tenant_flag_override::Model) -> Result<FlagOverride> {
    let spec: OverrideSpec = serde_json::from_str(&row.document).map_err(Error::internal)?;
    Ok(FlagOverride {
        owner: OverrideOwner::Tenant(TenantId::from_uuid(row.tenant_id)),
        flag: row.flag,
        spec,
        revision: row.revision,
        create_time: row.create_time,
        update_time: row.update_time,
    })
}
