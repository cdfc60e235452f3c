//! Writing rows with sea-orm in a scoped transaction: the conditional
//! statements whose count of rows tells whether the rows were still as
//! read ([`ChangeRows`], [`Store::exec_if_changed`]), the insert a
//! concurrent writer may have beaten ([`insert_if_absent`]) and the put
//! built on it ([`put_row`]), and an insert with its audit record
//! ([`Store::insert_in`]) of a row sea-orm inserts whole ([`InsertRow`]),
//! and the rows recorded once per key, each with its audit record
//! ([`Store::record_firsts`]).

use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, Condition, DeleteMany, EntityTrait, IntoActiveModel,
    QueryFilter, TryInsertResult, UpdateMany, ValidatedDeleteOne,
};

use crate::error::Result;
use crate::store::Store;
use crate::store::audit::AuditRecord;
use crate::store::scope::Scope;
use crate::store::txn::Txn;

/// A statement changing rows, conditional on what the writer read (an id,
/// a revision, a state): how many rows it changed says whether they were
/// still as read.
pub trait ChangeRows: Send {
    /// Runs the statement in `txn`; how many rows it changed.
    fn rows_changed(self, txn: &Txn) -> impl Future<Output = Result<u64>> + Send;
}

impl<E: EntityTrait> ChangeRows for UpdateMany<E> {
    async fn rows_changed(self, txn: &Txn) -> Result<u64> {
        Ok(self.exec(txn).await?.rows_affected)
    }
}

impl<E: EntityTrait> ChangeRows for DeleteMany<E> {
    async fn rows_changed(self, txn: &Txn) -> Result<u64> {
        Ok(self.exec(txn).await?.rows_affected)
    }
}

impl<E: EntityTrait> ChangeRows for ValidatedDeleteOne<E> {
    async fn rows_changed(self, txn: &Txn) -> Result<u64> {
        Ok(self.exec(txn).await?.rows_affected)
    }
}

/// A row sea-orm can insert whole: an active model of an entity whose
/// model converts back into it.
pub trait InsertRow:
    ActiveModelTrait<Entity: EntityTrait<Model: IntoActiveModel<Self>>> + ActiveModelBehavior + Send
{
}

impl<A> InsertRow for A where
    A: ActiveModelTrait<Entity: EntityTrait<Model: IntoActiveModel<A>>>
        + ActiveModelBehavior
        + Send
{
}

impl Store {
    /// Runs the conditional `statement` in a transaction of `scope`: when
    /// it changed no row, the rows were not as read, so nothing is written
    /// and the answer is `false`; otherwise it commits with its `audit`
    /// record.
    pub(crate) async fn exec_if_changed(
        &self,
        scope: Scope,
        audit: AuditRecord,
        statement: impl ChangeRows,
    ) -> Result<bool> {
        self.write_if_changed(scope, audit, async |txn| statement.rows_changed(txn).await)
            .await
    }

    /// Inserts `row` in a transaction of `scope` and commits it with its
    /// `audit` record.
    pub(crate) async fn insert_in(
        &self,
        scope: Scope,
        audit: AuditRecord,
        row: impl InsertRow,
    ) -> Result<()> {
        self.write_in(scope, audit, async |txn| {
            row.insert(txn).await?;
            Ok(())
        })
        .await
    }

    /// Records each of `items` whose row (`row` of it) is not stored yet,
    /// with the audit record `audit` makes of it, in one transaction of
    /// `scope`; answers the items it recorded. The row's key is what makes
    /// an item a first: one a concurrent writer recorded is not recorded
    /// again, nor audited twice. Not announced on the change feed: no
    /// cache holds such rows.
    pub(crate) async fn record_firsts<T, A: ActiveModelTrait + Send>(
        &self,
        scope: Scope,
        items: Vec<T>,
        row: impl Fn(&T) -> A,
        audit: impl Fn(&T) -> Result<AuditRecord>,
    ) -> Result<Vec<T>> {
        self.write_unannounced(scope, async |txn| {
            let mut recorded = Vec::with_capacity(items.len());
            for item in items {
                if insert_if_absent(txn, row(&item)).await? == 1 {
                    crate::store::insert_audit(txn, audit(&item)?).await?;
                    recorded.push(item);
                }
            }
            Ok(recorded)
        })
        .await
    }
}

/// Inserts `row` unless a row with its key exists; how many rows it
/// inserted: none when another writer inserted the key first.
pub async fn insert_if_absent<A: ActiveModelTrait + Send>(txn: &Txn, row: A) -> Result<u64> {
    let inserted = A::Entity::insert(row)
        .on_conflict_do_nothing()
        .exec_without_returning(txn)
        .await?;
    Ok(match inserted {
        TryInsertResult::Inserted(rows) => rows,
        TryInsertResult::Empty | TryInsertResult::Conflicted => 0,
    })
}

/// Stores `row`: inserted when it replaces nothing, else replacing the row
/// `replacing` matches (the one the writer read, at its revision); how
/// many rows it wrote: none when another writer came first.
pub async fn put_row<A: ActiveModelTrait + Send>(
    txn: &Txn,
    row: A,
    replacing: Option<Condition>,
) -> Result<u64> {
    match replacing {
        None => insert_if_absent(txn, row).await,
        Some(read) => {
            let update = A::Entity::update_many().set(row).filter(read);
            update.rows_changed(txn).await
        }
    }
}
