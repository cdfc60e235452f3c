//! Override rows: `plan_flag_overrides` (fleet-wide) and
//! `tenant_flag_overrides` (tenant rows, under row-level security). The two
//! tables are alike but for the owner's key column, so one set of queries
//! serves both, each table saying only how its owner is keyed
//! ([`OverrideTable`]). An override's change is logged for WatchConfig in
//! its own transaction.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::ExprTrait;
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, TryInsertResult,
};

use crate::common::ids::TenantId;
use crate::config::FlagScope;
use crate::error::{Error, Result};
use crate::flags::flag::{FlagOverride, OverrideOwner, OverrideSpec};
use crate::flags::store::OverrideSet;
use crate::store::audit::AuditRecord;
use crate::store::entities::{plan_flag_override, tenant_flag_override};
use crate::store::scope::Scope;
use crate::store::{Store, Txn};

impl Store {
    /// The override of `flag` by `owner`, if any.
    pub async fn find_flag_override(
        &self,
        scope: Scope,
        owner: &OverrideOwner,
        flag: &str,
    ) -> Result<Option<FlagOverride>> {
        let set = OverrideSet::One(owner.clone());
        let mut found = self
            .list_flag_overrides(scope, &set, Some(flag), None, Some(1))
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
        let document = serde_json::to_string(&next.spec).map_err(Error::internal)?;
        let write = Write::Put {
            document,
            previous_revision,
        };
        self.write_override(scope, audit, next, write).await
    }

    /// Deletes `current` if it still has its revision; `false` otherwise.
    pub async fn delete_flag_override(
        &self,
        scope: Scope,
        current: &FlagOverride,
        audit: AuditRecord,
    ) -> Result<bool> {
        self.write_override(scope, audit, current, Write::Delete)
            .await
    }

    /// Applies `write` to the row of `target` in its owner's table and logs
    /// the change, with `audit`; `false` when it wrote no row (nothing is
    /// written then).
    async fn write_override(
        &self,
        scope: Scope,
        audit: AuditRecord,
        target: &FlagOverride,
        write: Write,
    ) -> Result<bool> {
        self.write_if_changed(scope, audit, async |txn| {
            let rows = match &target.owner {
                OverrideOwner::Plan(plan) => {
                    write_row::<PlanRows>(txn, plan.clone(), target, write).await?
                }
                OverrideOwner::Tenant(id) => {
                    write_row::<TenantRows>(txn, id.as_uuid(), target, write).await?
                }
            };
            // Rolled back with the rest when no row was written.
            self.record_flag_change(txn, &target.flag, change_scope(&target.owner))
                .await?;
            Ok(rows)
        })
        .await
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
        let page = Page { flag, after, limit };
        self.read_in(scope, async |txn| match set {
            OverrideSet::AllPlans => list::<PlanRows>(txn, None, page).await,
            OverrideSet::One(OverrideOwner::Plan(plan)) => {
                list::<PlanRows>(txn, Some(plan.clone()), page).await
            }
            OverrideSet::AllTenants => list::<TenantRows>(txn, None, page).await,
            OverrideSet::One(OverrideOwner::Tenant(id)) => {
                list::<TenantRows>(txn, Some(id.as_uuid()), page).await
            }
        })
        .await
    }
}

/// Every plan override, in no order: what evaluation caches with the
/// flags.
pub(super) async fn plan_overrides(txn: &Txn) -> Result<Vec<FlagOverride>> {
    let rows = plan_flag_override::Entity::find().all(txn).await?;
    rows.into_iter().map(PlanRows::decode).collect()
}

/// Where a change of `owner`'s override applies, as WatchConfig logs it.
fn change_scope(owner: &OverrideOwner) -> FlagScope {
    match owner {
        OverrideOwner::Plan(plan) => FlagScope::Plan(plan.clone()),
        OverrideOwner::Tenant(tenant_id) => FlagScope::Tenant(*tenant_id),
    }
}

type PlanRows = plan_flag_override::Entity;
type TenantRows = tenant_flag_override::Entity;

/// One of the two override tables.
trait OverrideTable: EntityTrait {
    /// The owner's key: a plan id or a tenant id.
    type Key: Into<sea_orm::Value> + Clone + Send;
    /// The column of the owner's key.
    const OWNER: Self::Column;
    /// The column of the flag key.
    const FLAG: Self::Column;
    /// The column of the revision.
    const REVISION: Self::Column;

    /// The owner's key from its text in a page token.
    fn key_of(text: &str) -> Result<Self::Key>;

    /// The row storing `next` (its spec as `document`) under `key`.
    fn row(key: Self::Key, next: &FlagOverride, document: String) -> Self::ActiveModel;

    /// The override `row` stores.
    fn decode(row: Self::Model) -> Result<FlagOverride>;
}

impl OverrideTable for plan_flag_override::Entity {
    type Key = String;
    const OWNER: Self::Column = plan_flag_override::Column::Plan;
    const FLAG: Self::Column = plan_flag_override::Column::Flag;
    const REVISION: Self::Column = plan_flag_override::Column::Revision;

    fn key_of(text: &str) -> Result<String> {
        Ok(text.to_owned())
    }

    fn row(plan: String, next: &FlagOverride, document: String) -> Self::ActiveModel {
        plan_flag_override::ActiveModel {
            plan: Set(plan),
            flag: Set(next.flag.clone()),
            document: Set(document),
            revision: Set(next.revision),
            create_time: Set(next.create_time),
            update_time: Set(next.update_time),
        }
    }

    fn decode(row: Self::Model) -> Result<FlagOverride> {
        let owner = OverrideOwner::Plan(row.plan);
        stored(
            owner,
            row.flag,
            &row.document,
            row.revision,
            (row.create_time, row.update_time),
        )
    }
}

impl OverrideTable for tenant_flag_override::Entity {
    type Key = uuid::Uuid;
    const OWNER: Self::Column = tenant_flag_override::Column::TenantId;
    const FLAG: Self::Column = tenant_flag_override::Column::Flag;
    const REVISION: Self::Column = tenant_flag_override::Column::Revision;

    fn key_of(text: &str) -> Result<uuid::Uuid> {
        uuid::Uuid::parse_str(text).map_err(Error::internal)
    }

    fn row(tenant_id: uuid::Uuid, next: &FlagOverride, document: String) -> Self::ActiveModel {
        tenant_flag_override::ActiveModel {
            tenant_id: Set(tenant_id),
            flag: Set(next.flag.clone()),
            document: Set(document),
            revision: Set(next.revision),
            create_time: Set(next.create_time),
            update_time: Set(next.update_time),
        }
    }

    fn decode(row: Self::Model) -> Result<FlagOverride> {
        let owner = OverrideOwner::Tenant(TenantId::from_uuid(row.tenant_id));
        stored(
            owner,
            row.flag,
            &row.document,
            row.revision,
            (row.create_time, row.update_time),
        )
    }
}

/// The override of `owner` for `flag` stored as `document` at `revision`,
/// with its create and update times.
fn stored(
    owner: OverrideOwner,
    flag: String,
    document: &str,
    revision: i64,
    (create_time, update_time): (DateTime<Utc>, DateTime<Utc>),
) -> Result<FlagOverride> {
    let spec: OverrideSpec = serde_json::from_str(document).map_err(Error::internal)?;
    Ok(FlagOverride {
        owner,
        flag,
        spec,
        revision,
        create_time,
        update_time,
    })
}

/// The row of `key`'s override of `flag`, while it has `revision`.
fn at_revision<T: OverrideTable>(key: T::Key, flag: &str, revision: i64) -> Condition {
    Condition::all()
        .add(T::OWNER.eq(key))
        .add(T::FLAG.eq(flag))
        .add(T::REVISION.eq(revision))
}

/// What a listing reads beside the owner: only `flag`'s overrides when
/// given, only those after `after` (owner key, flag) when given, at most
/// `limit` when given.
struct Page<'a> {
    flag: Option<&'a str>,
    after: Option<(String, String)>,
    limit: Option<u64>,
}

/// The overrides in `T` (only `owner`'s when given) that `page` asks for,
/// ordered by owner then flag.
async fn list<T: OverrideTable>(
    txn: &Txn,
    owner: Option<T::Key>,
    page: Page<'_>,
) -> Result<Vec<FlagOverride>> {
    let mut select = T::find().order_by_asc(T::OWNER).order_by_asc(T::FLAG);
    if let Some(limit) = page.limit {
        select = select.limit(limit);
    }
    if let Some(owner) = owner {
        select = select.filter(T::OWNER.eq(owner));
    }
    if let Some(flag) = page.flag {
        select = select.filter(T::FLAG.eq(flag));
    }
    if let Some((owner, flag)) = page.after {
        let owner = T::key_of(&owner)?;
        select = select.filter(
            T::OWNER
                .gt(owner.clone())
                .or(T::OWNER.eq(owner).and(T::FLAG.gt(flag))),
        );
    }
    let rows = select.all(txn).await?;
    rows.into_iter().map(T::decode).collect()
}

/// A change of one override row.
enum Write {
    /// Store it (its spec as `document`): inserted when there is no
    /// previous revision, else replacing the row still at it.
    Put {
        document: String,
        previous_revision: Option<i64>,
    },
    /// Delete it while it has its revision.
    Delete,
}

/// Applies `write` to `target`'s row, stored under `key`; how many rows it
/// wrote: none when another writer came first.
async fn write_row<T: OverrideTable>(
    txn: &Txn,
    key: T::Key,
    target: &FlagOverride,
    write: Write,
) -> Result<u64> {
    let (document, previous_revision) = match write {
        Write::Put {
            document,
            previous_revision,
        } => (document, previous_revision),
        Write::Delete => {
            let at = at_revision::<T>(key, &target.flag, target.revision);
            return Ok(T::delete_many().filter(at).exec(txn).await?.rows_affected);
        }
    };
    let row = T::row(key.clone(), target, document);
    let Some(revision) = previous_revision else {
        let inserted = T::insert(row)
            .on_conflict_do_nothing()
            .exec_without_returning(txn)
            .await?;
        return Ok(match inserted {
            TryInsertResult::Inserted(rows) => rows,
            _ => 0,
        });
    };
    let at = at_revision::<T>(key, &target.flag, revision);
    Ok(T::update_many()
        .set(row)
        .filter(at)
        .exec(txn)
        .await?
        .rows_affected)
}
