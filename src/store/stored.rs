//! Resources kept as one row of one table ([`Stored`]): the reads and
//! writes every such resource shares, by its key column, so a service's
//! store file says only how its resource becomes a row and back.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Value};

use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::audit::{AuditRecord, Origin};
use crate::store::idempotency::{IdempotencyEntry, IdempotentCreate, Insert, insert_with_entry};
use crate::store::read::Paging;
use crate::store::revision::Revisioned;
use crate::store::scope::Scope;
use crate::store::txn::Txn;
use crate::store::write::{ChangeRows, InsertRow};

/// A resource kept as one row of one table, named by one key column;
/// [`stored!`] implements it.
pub trait Stored: Sized + Send + Sync {
    /// Its table.
    type Entity: EntityTrait<Model: IntoActiveModel<Self::Row>>;
    /// Its row as written.
    type Row: InsertRow + ActiveModelTrait<Entity = Self::Entity>;

    /// The column of its key: what names a row and orders listings.
    const KEY: <Self::Entity as EntityTrait>::Column;
    /// The column of its revision, which conditional writes compare.
    const REVISION: <Self::Entity as EntityTrait>::Column;

    /// When it was made, which its idempotency entry records.
    fn create_time(&self) -> DateTime<Utc>;

    /// Its row.
    fn to_row(&self) -> Result<Self::Row>;

    /// The resource a stored row holds.
    fn from_row(row: <Self::Entity as EntityTrait>::Model) -> Result<Self>;

    /// What writing it does besides its row, in the same transaction (a
    /// flag logs its change for WatchConfig): nothing unless [`stored!`]
    /// is given a `then` function.
    fn also_write(&self, store: &Store, txn: &Txn) -> impl Future<Output = Result<()>> + Send {
        let _ = (store, txn);
        async { Ok(()) }
    }
}

impl Store {
    /// Inserts `new`, its idempotency `entry` (if any) and its `audit`
    /// record in one transaction of `scope`: the write of an idempotent
    /// create.
    pub async fn insert_stored<R: Stored>(
        &self,
        scope: Scope,
        new: &R,
        entry: Option<&IdempotencyEntry>,
        audit: AuditRecord,
    ) -> Result<()> {
        let (row, create_time) = (new.to_row()?, new.create_time());
        self.write_in(scope, audit, async |txn| {
            insert_with_entry(txn, entry, create_time, row).await?;
            new.also_write(self, txn).await
        })
        .await
    }

    /// The resource whose key is `key`, if it exists.
    pub async fn find_stored<R: Stored>(
        &self,
        scope: Scope,
        key: impl Into<Value>,
    ) -> Result<Option<R>> {
        let select = R::Entity::find().filter(R::KEY.eq(key));
        self.find_one(scope, select, R::from_row).await
    }

    /// The resource `key`; NOT_FOUND when there is none.
    pub async fn get_stored<R: Stored + Revisioned>(&self, scope: Scope, key: &str) -> Result<R> {
        let found = self.find_stored(scope, key).await?;
        found.ok_or_else(|| R::not_found(key))
    }

    /// One page of the collection, by key, and the next page token.
    pub async fn page_stored<R: Stored + Revisioned>(
        &self,
        scope: Scope,
        page_size: u64,
        page_token: &str,
    ) -> Result<(Vec<R>, String)> {
        let list =
            async |after: Option<String>, limit| self.list_stored(scope, after, Some(limit)).await;
        let key_of = |resource: &R| R::key_of(&resource.resource_name()).to_owned();
        self.page_tokens()
            .page(&[R::COLLECTION], page_size, page_token, list, key_of)
            .await
    }

    /// At most `limit` resources (all without one) with keys after
    /// `after`, by key.
    pub async fn list_stored<R: Stored>(
        &self,
        scope: Scope,
        after: Option<impl Into<Value>>,
        limit: impl Into<Option<u64>>,
    ) -> Result<Vec<R>> {
        let select = R::Entity::find().page(R::KEY, after, limit);
        self.find_all(scope, select, R::from_row).await
    }

    /// Replaces the resource if it still has `previous_revision`, with its
    /// `audit` record; `false` when it changed meanwhile (nothing is
    /// written then).
    pub async fn replace_stored<R: Stored>(
        &self,
        scope: Scope,
        previous_revision: i64,
        next: &R,
        audit: AuditRecord,
    ) -> Result<bool> {
        let row = next.to_row()?;
        let key = row.get(R::KEY).into_value();
        let key = key.ok_or_else(|| Error::internal("a stored row without its key"))?;
        let update = R::Entity::update_many()
            .set(row)
            .filter(R::KEY.eq(key))
            .filter(R::REVISION.eq(previous_revision));
        self.write_if_changed(scope, audit, async |txn| {
            let updated = update.rows_changed(txn).await?;
            // Rolled back with the rest when nothing was updated.
            next.also_write(self, txn).await?;
            Ok(updated)
        })
        .await
    }
}

impl IdempotentCreate<'_> {
    /// Inserts `made`, a catalogue resource built before the call, once per
    /// request id, as [`Self::run`] does, and answers it whoever made it: a
    /// retry is answered by the stored resource the first call made.
    pub async fn insert<R: Stored + Revisioned>(
        &self,
        origin: &Origin,
        made: R,
        insert: impl Insert<R>,
    ) -> Result<R> {
        let replay = async |name: &str| {
            let key = R::key_of(name);
            self.store.get_stored(self.scope.clone(), key).await
        };
        let created = self.run(origin, async || Ok(made), insert, replay).await?;
        Ok(created.into_inner())
    }
}

/// Implements [`Stored`] for a resource kept in the entity module
/// `$table`, keyed by its column `$key`, made at its field `$made`, and
/// converted by the functions `$to_row` and `$from_row`:
/// `stored!(Plan in plan by Id, made stamps.create_time, to_row, from_row)`.
/// A trailing `then $also` names the async function that is its
/// [`Stored::also_write`].
macro_rules! stored {
    ($resource:ident in $table:ident by $key:ident, made $($made:ident).+, $to_row:path, $from_row:path $(, then $also:path)?) => {
        impl $crate::store::stored::Stored for $resource {
            type Entity = $table::Entity;
            type Row = $table::ActiveModel;

            const KEY: $table::Column = $table::Column::$key;
            const REVISION: $table::Column = $table::Column::Revision;

            fn create_time(&self) -> chrono::DateTime<chrono::Utc> {
                self.$($made).+
            }

            fn to_row(&self) -> $crate::error::Result<$table::ActiveModel> {
                $to_row(self)
            }

            fn from_row(row: $table::Model) -> $crate::error::Result<Self> {
                $from_row(row)
            }

            $(
                async fn also_write(
                    &self,
                    store: &$crate::store::Store,
                    txn: &$crate::store::Txn,
                ) -> $crate::error::Result<()> {
                    $also(self, store, txn).await
                }
            )?
        }
    };
}
pub(crate) use stored;
