//! The event outbox's reads, retention and sink cursors. Events are
//! written by the foundation with the change they report
//! ([`crate::store::outbox`]); this is everything else that touches the
//! `events` and `event_cursors` tables.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::common::ids::TenantId;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::entities::event;
use crate::store::outbox::OutboxEvent;
use crate::store::scope::Scope;
use crate::store::sequence::{self, Log, LogBounds};

/// Which events a reader wants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only these short types; empty for all.
    pub types: Vec<String>,
    /// Only these tenants' events; empty for all the scope may see.
    pub tenants: Vec<TenantId>,
}

impl Store {
    /// Up to `limit` events after `after` that `scope` may see and
    /// `filter` keeps, oldest first. A tenant scope sees its own tenant's
    /// events only (RLS on PostgreSQL, the filter on both).
    pub async fn events_after(
        &self,
        scope: Scope,
        after: i64,
        limit: u64,
        filter: &EventFilter,
    ) -> Result<Vec<OutboxEvent>> {
        let mut select = event::Entity::find()
            .filter(event::Column::Sequence.gt(after))
            .order_by_asc(event::Column::Sequence)
            .limit(limit);
        if let Scope::Tenant(tenant_id) = &scope {
            select = select.filter(event::Column::TenantId.eq(tenant_id.as_uuid()));
        }
        if !filter.types.is_empty() {
            select = select.filter(event::Column::Type.is_in(filter.types.iter().cloned()));
        }
        if !filter.tenants.is_empty() {
            let ids = filter.tenants.iter().map(|id| id.as_uuid());
            select = select.filter(event::Column::TenantId.is_in(ids));
        }
        self.find_all(scope, select, |row| Ok(OutboxEvent::from(row)))
            .await
    }

    /// Where the event log stands: the newest sequence committed and the
    /// newest pruned.
    pub async fn event_bounds(&self) -> Result<LogBounds> {
        let backend = self.backend();
        self.read_in(Scope::Platform, async |txn| {
            sequence::bounds_in(txn, backend, Log::Events).await
        })
        .await
    }

    /// Forgets the events made before `cutoff`; returns how many.
    pub async fn prune_events(&self, cutoff: DateTime<Utc>) -> Result<u64> {
        self.prune_log(Log::Events, cutoff).await
    }

    /// The newest sequence the sink `sink` has delivered; 0 before any.
    pub async fn event_cursor(&self, sink: &str) -> Result<i64> {
        let select = Query::select()
            .column(Alias::new("through"))
            .from(Alias::new("event_cursors"))
            .and_where(Expr::col(Alias::new("sink")).eq(sink))
            .to_owned();
        let statement = self.backend().build(&select);
        let row = self
            .read_in(Scope::Platform, async |txn| {
                Ok(txn.query_one_raw(statement).await?)
            })
            .await?;
        Ok(row
            .map(|row| row.try_get::<i64>("", "through"))
            .transpose()?
            .unwrap_or(0))
    }

    /// Records that the sink `sink` has delivered every event through
    /// `through`; never moves a cursor back.
    pub async fn advance_event_cursor(&self, sink: &str, through: i64) -> Result<()> {
        let now = Utc::now();
        let mut upsert = Query::insert()
            .into_table(Alias::new("event_cursors"))
            .columns([
                Alias::new("sink"),
                Alias::new("through"),
                Alias::new("update_time"),
            ])
            .values([sink.into(), through.into(), now.into()])
            .map_err(Error::internal)?
            .to_owned();
        upsert.on_conflict(
            OnConflict::column(Alias::new("sink"))
                .values([
                    (
                        Alias::new("through"),
                        Expr::cust("CASE WHEN excluded.through > event_cursors.through THEN excluded.through ELSE event_cursors.through END"),
                    ),
                    (Alias::new("update_time"), Expr::cust("excluded.update_time")),
                ])
                .to_owned(),
        );
        let statement = self.backend().build(&upsert);
        self.write_unannounced(Scope::Platform, async |txn| {
            txn.execute_raw(statement).await?;
            Ok(())
        })
        .await
    }
}
