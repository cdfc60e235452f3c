//! Override rows: `plan_flag_overrides` (fleet-wide) and
//! `tenant_flag_overrides` (tenant rows, under row-level security). The two
//! tables are alike but for the owner's key column, so one set of queries
//! serves both, each table saying only how its owner is keyed
//! ([`OverrideTable`]). An override's change is logged for WatchConfig in
//! its own transaction.

use std::str::FromStr;

use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use crate::common::ids::TenantId;
use crate::config::FlagScope;
use crate::error::{Error, Result};
use crate::flags::flag::{FlagOverride, OverrideOwner, OverrideSpec};
use crate::flags::store::OverrideSet;
use crate::store::audit::AuditRecord;
use crate::store::entities::{plan_flag_override, tenant_flag_override};
use crate::store::read::Paging;
use crate::store::revision::Stamps;
use crate::store::scope::Scope;
use crate::store::write::{ChangeRows, put_row};
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
trait OverrideTable: EntityTrait<ActiveModel: Send> {
    /// The owner's key: a plan id or a tenant id, parsed from its text in
    /// a page token.
    type Key: Into<sea_orm::Value>
        + Clone
        + Send
        + FromStr<Err: std::error::Error + Send + Sync + 'static>;
    /// The column of the owner's key.
    const OWNER: Self::Column;
    /// The column of the flag key.
    const FLAG: Self::Column;
    /// The column of the revision.
    const REVISION: Self::Column;

    /// The row storing `next` (its spec as `document`) under `key`.
    fn row(key: Self::Key, next: &FlagOverride, document: String) -> Self::ActiveModel;

    /// The override `row` stores.
    fn decode(row: Self::Model) -> Result<FlagOverride>;
}

/// Implements [`OverrideTable`] for the override table `$table`, whose
/// owner is keyed by the field `$owner` of type `$key` (the column
/// `$column`) and is `$owner_of` of it: the two tables differ only there.
macro_rules! override_table {
    ($table:ident, $owner:ident: $key:ty, $column:ident, $owner_of:expr) => {
        impl OverrideTable for $table::Entity {
            type Key = $key;
            const OWNER: Self::Column = $table::Column::$column;
            const FLAG: Self::Column = $table::Column::Flag;
            const REVISION: Self::Column = $table::Column::Revision;

            fn row(key: $key, next: &FlagOverride, document: String) -> Self::ActiveModel {
                $table::ActiveModel {
                    $owner: Set(key),
                    flag: Set(next.flag.clone()),
                    document: Set(document),
                    revision: Set(next.stamps.revision),
                    create_time: Set(next.stamps.create_time),
                    update_time: Set(next.stamps.update_time),
                }
            }

            fn decode(row: Self::Model) -> Result<FlagOverride> {
                let spec: OverrideSpec =
                    serde_json::from_str(&row.document).map_err(Error::internal)?;
                let $owner = row.$owner;
                Ok(FlagOverride {
                    owner: $owner_of,
                    flag: row.flag,
                    spec,
                    stamps: Stamps {
                        revision: row.revision,
                        create_time: row.create_time,
                        update_time: row.update_time,
                    },
                })
            }
        }
    };
}

override_table!(plan_flag_override, plan: String, Plan, OverrideOwner::Plan(plan));
override_table!(
    tenant_flag_override,
    tenant_id: uuid::Uuid,
    TenantId,
    OverrideOwner::Tenant(TenantId::from_uuid(tenant_id))
);

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
    let after = match page.after {
        Some((owner, flag)) => Some((owner.parse::<T::Key>().map_err(Error::internal)?, flag)),
        None => None,
    };
    let mut select = T::find()
        .order_by_asc(T::OWNER)
        .order_by_asc(T::FLAG)
        .limit(page.limit)
        .after_pair((T::OWNER, T::FLAG), after);
    if let Some(owner) = owner {
        select = select.filter(T::OWNER.eq(owner));
    }
    if let Some(flag) = page.flag {
        select = select.filter(T::FLAG.eq(flag));
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
            let at = at_revision::<T>(key, &target.flag, target.stamps.revision);
            return T::delete_many().filter(at).rows_changed(txn).await;
        }
    };
    let row = T::row(key.clone(), target, document);
    let replacing = previous_revision.map(|revision| at_revision::<T>(key, &target.flag, revision));
    put_row(txn, row, replacing).await
}
