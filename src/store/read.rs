//! Reading rows with sea-orm in a scoped transaction: one row or all rows
//! a select finds, each converted to the caller's type
//! ([`Store::find_one`], [`Store::find_all`]), and the paging every
//! listing shares ([`Paging`]): ordered by a key, after a cursor, at most
//! a page.

use sea_orm::sea_query::ExprTrait;
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select, SelectModel, Selector,
    SelectorTrait, Value,
};

use crate::error::Result;
use crate::store::Store;
use crate::store::scope::Scope;

/// A query whose rows a read answers: a select of an entity (its models)
/// or a selector of other rows (tuples, partial models).
pub trait Selection: Send {
    /// What the query decodes each row as.
    type Rows: SelectorTrait;

    /// The query as a selector of its rows.
    fn into_selector(self) -> Selector<Self::Rows>;
}

impl<E: EntityTrait> Selection for Select<E> {
    type Rows = SelectModel<E::Model>;

    fn into_selector(self) -> Selector<Self::Rows> {
        self.into_model()
    }
}

impl<S: SelectorTrait + Send> Selection for Selector<S> {
    type Rows = S;

    fn into_selector(self) -> Selector<S> {
        self
    }
}

/// A row of the query `Q`.
type Row<Q> = <<Q as Selection>::Rows as SelectorTrait>::Item;

impl Store {
    /// The first row `select` finds, read in `scope`, as `convert` makes
    /// it; `None` when it finds none.
    pub(crate) async fn find_one<E: EntityTrait, T>(
        &self,
        scope: Scope,
        select: Select<E>,
        convert: impl FnOnce(E::Model) -> Result<T>,
    ) -> Result<Option<T>> {
        let first = self.find_all(scope, select.limit(1), Ok).await?;
        first.into_iter().next().map(convert).transpose()
    }

    /// Every row `select` finds, read in `scope`, in its order, each as
    /// `convert` makes it.
    pub(crate) async fn find_all<Q: Selection, T>(
        &self,
        scope: Scope,
        select: Q,
        convert: impl FnMut(Row<Q>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let selector = select.into_selector();
        let rows = self
            .read_in(scope, async |txn| Ok(selector.all(txn).await?))
            .await?;
        rows.into_iter().map(convert).collect()
    }
}

/// The paging of listings: a page token carries the key of the last row
/// served, and the next page is the rows after it in key order.
pub trait Paging: QueryFilter + QueryOrder + QuerySelect + Sized {
    /// Only the rows whose `key` comes after `cursor`, when there is one.
    fn after<C: ColumnTrait>(self, key: C, cursor: Option<impl Into<Value>>) -> Self {
        match cursor {
            Some(cursor) => self.filter(key.gt(cursor)),
            None => self,
        }
    }

    /// Only the rows after `cursor` in the order of the two columns
    /// `keys` (the first, then the second), when there is a cursor.
    fn after_pair<A: ColumnTrait, B: ColumnTrait, V: Into<Value> + Clone>(
        self,
        (first, second): (A, B),
        cursor: Option<(V, impl Into<Value>)>,
    ) -> Self {
        match cursor {
            Some((at_first, at_second)) => self.filter(
                first
                    .gt(at_first.clone())
                    .or(first.eq(at_first).and(second.gt(at_second))),
            ),
            None => self,
        }
    }

    /// One page: the rows in `key` order after `cursor` (from the first
    /// without one), at most `limit` (all without one).
    fn page<C: ColumnTrait>(
        self,
        key: C,
        cursor: Option<impl Into<Value>>,
        limit: impl Into<Option<u64>>,
    ) -> Self {
        self.order_by_asc(key).limit(limit).after(key, cursor)
    }
}

impl<E: EntityTrait> Paging for Select<E> {}
