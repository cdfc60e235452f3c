//! The delivery worker's SQL, all in the platform scope: endpoints claimed
//! under row leases, events turned into deliveries (fan-out), the pending
//! deliveries of an endpoint, and each attempt's outcome.
//!
//! Invariants:
//! - an endpoint is worked by one replica at a time: a claim or renewal is
//!   a conditional update that succeeds only when the lease has lapsed or
//!   is the claimer's own, so a replica that dies loses its endpoints when
//!   their leases lapse, and nothing else;
//! - fan-out inserts each (endpoint, sequence) once (a repeat after a lost
//!   lease inserts nothing) and moves `fanned_through` forward only, in the
//!   same transaction, and only while the lease is held;
//! - a delivery becomes DELIVERED only after a 2xx was answered, so an
//!   attempt cut short by a crash is made again, with the same event id.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Set,
};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::events::EventFilter;
use crate::events::webhooks::endpoint::{DeliveryState, Endpoint};
use crate::events::webhooks::signing::SigningSecret;
use crate::events::webhooks::store::endpoint_of;
use crate::store::Store;
use crate::store::entities::{event, webhook_attempt, webhook_delivery, webhook_endpoint};
use crate::store::outbox::OutboxEvent;
use crate::store::scope::Scope;
use crate::store::sequence::{self, Log};
use crate::store::write::insert_if_absent;

/// An endpoint as the worker holds it: with its secret and its cursor.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// Its signing secret.
    pub secret: SigningSecret,
    /// The newest sequence already fanned out to it.
    pub fanned_through: i64,
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// When it was made.
    pub time: DateTime<Utc>,
    /// How long it took.
    pub duration_ms: i64,
    /// The HTTP status, if one was answered.
    pub status: Option<i32>,
    /// Why it failed; `None` for a 2xx.
    pub error: Option<String>,
    /// What the delivery becomes, and when it is next due.
    pub next: (DeliveryState, DateTime<Utc>),
}

/// The lease condition: lapsed, or none.
fn lapsed(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(webhook_endpoint::Column::LeaseUntil.is_null())
        .add(webhook_endpoint::Column::LeaseUntil.lt(now))
}

impl Store {
    /// Claims up to `limit` endpoints whose lease has lapsed for `owner`
    /// until `until`, those claimed longest ago first, skipping `busy`.
    pub async fn claim_webhook_endpoints(
        &self,
        owner: &str,
        until: DateTime<Utc>,
        limit: u64,
        busy: &[Uuid],
    ) -> Result<Vec<Claimed>> {
        let now = Utc::now();
        let candidates = webhook_endpoint::Entity::find()
            .filter(lapsed(now))
            .filter(webhook_endpoint::Column::Id.is_not_in(busy.iter().copied()))
            .order_by_asc(webhook_endpoint::Column::ClaimTime)
            .limit(limit);
        let rows = self.find_all(Scope::Platform, candidates, Ok).await?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in rows {
            let id = row.id;
            let won = self
                .write_unannounced(Scope::Platform, async |txn| {
                    let updated = webhook_endpoint::Entity::update_many()
                        .col_expr(webhook_endpoint::Column::LeaseOwner, Expr::value(owner))
                        .col_expr(webhook_endpoint::Column::LeaseUntil, Expr::value(until))
                        .col_expr(webhook_endpoint::Column::ClaimTime, Expr::value(now))
                        .filter(webhook_endpoint::Column::Id.eq(id))
                        .filter(lapsed(now))
                        .exec(&**txn)
                        .await?;
                    Ok(updated.rows_affected == 1)
                })
                .await?;
            if won {
                claimed.push(Claimed {
                    secret: SigningSecret::from_stored(row.secret.clone()),
                    fanned_through: row.fanned_through,
                    endpoint: endpoint_of(row)?,
                });
            }
        }
        Ok(claimed)
    }

    /// Extends `owner`'s lease of endpoint `id` to `until` (`None`: gives
    /// it up); `false` when the lease is no longer `owner`'s (lost, or the
    /// endpoint deleted).
    pub async fn renew_webhook_lease(
        &self,
        id: Uuid,
        owner: &str,
        until: Option<DateTime<Utc>>,
    ) -> Result<bool> {
        self.write_unannounced(Scope::Platform, async |txn| {
            let updated = webhook_endpoint::Entity::update_many()
                .col_expr(webhook_endpoint::Column::LeaseUntil, Expr::value(until))
                .filter(webhook_endpoint::Column::Id.eq(id))
                .filter(webhook_endpoint::Column::LeaseOwner.eq(owner))
                .exec(&**txn)
                .await?;
            Ok(updated.rows_affected == 1)
        })
        .await
    }

    /// Turns up to `batch` new events `claimed` receives into its pending
    /// deliveries, while `owner` holds its lease; answers how many were
    /// made (also moving `claimed.fanned_through`).
    pub async fn fan_out_webhook(
        &self,
        claimed: &mut Claimed,
        owner: &str,
        batch: u64,
    ) -> Result<usize> {
        let backend = self.backend();
        let head = self
            .read_in(Scope::Platform, async |txn| {
                Ok(sequence::bounds_in(txn, backend, Log::Events)
                    .await?
                    .current)
            })
            .await?;
        if head <= claimed.fanned_through {
            return Ok(0);
        }
        let filter = EventFilter {
            types: claimed.endpoint.event_types.clone(),
            tenants: claimed.endpoint.tenant_id.into_iter().collect(),
        };
        let events = self
            .events_after(Scope::Platform, claimed.fanned_through, batch, &filter)
            .await?;
        let full = u64::try_from(events.len()).unwrap_or(u64::MAX) >= batch;
        let through = match events.last() {
            Some(last) if full => last.sequence,
            Some(last) => last.sequence.max(head),
            None => head,
        };
        let (endpoint, now) = (&claimed.endpoint, Utc::now());
        let made = events.len();
        let kept = self
            .write_unannounced(Scope::Platform, async |txn| {
                let moved = webhook_endpoint::Entity::update_many()
                    .col_expr(
                        webhook_endpoint::Column::FannedThrough,
                        Expr::value(through),
                    )
                    .filter(webhook_endpoint::Column::Id.eq(endpoint.id))
                    .filter(webhook_endpoint::Column::LeaseOwner.eq(owner))
                    .filter(webhook_endpoint::Column::FannedThrough.lt(through))
                    .exec(&**txn)
                    .await?;
                if moved.rows_affected != 1 {
                    return Ok(false);
                }
                for event in &events {
                    let row = webhook_delivery::ActiveModel {
                        endpoint_id: Set(endpoint.id),
                        sequence: Set(event.sequence),
                        tenant_id: Set(endpoint.tenant_id.map(|id| id.as_uuid())),
                        event_id: Set(event.id),
                        subject: Set(event.subject.clone()),
                        state: Set(DeliveryState::Pending.as_str().to_owned()),
                        attempts: Set(0),
                        next_attempt_time: Set(now),
                        retry_since: Set(now),
                        last_status: Set(None),
                        last_error: Set(None),
                        update_time: Set(now),
                    };
                    insert_if_absent(txn, row).await?;
                }
                Ok(true)
            })
            .await?;
        if !kept {
            return Err(Error::concurrent_modification(
                "the endpoint's lease was lost during fan-out",
            ));
        }
        claimed.fanned_through = through;
        Ok(made)
    }

    /// Up to `limit` pending deliveries of endpoint `id`, oldest event
    /// first, each with its event (`None` once the event is no longer
    /// kept).
    pub async fn pending_webhook_deliveries(
        &self,
        id: Uuid,
        limit: u64,
    ) -> Result<Vec<(webhook_delivery::Model, Option<OutboxEvent>)>> {
        let select = webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::EndpointId.eq(id))
            .filter(webhook_delivery::Column::State.eq(DeliveryState::Pending.as_str()))
            .order_by_asc(webhook_delivery::Column::Sequence)
            .limit(limit);
        let rows = self.find_all(Scope::Platform, select, Ok).await?;
        let sequences: Vec<i64> = rows.iter().map(|row| row.sequence).collect();
        let events = event::Entity::find().filter(event::Column::Sequence.is_in(sequences));
        let mut by_sequence: HashMap<i64, OutboxEvent> = self
            .find_all(Scope::Platform, events, |row| {
                Ok((row.sequence, OutboxEvent::from(row)))
            })
            .await?
            .into_iter()
            .collect();
        Ok(rows
            .into_iter()
            .map(|row| {
                let event = by_sequence.remove(&row.sequence);
                (row, event)
            })
            .collect())
    }

    /// Records an attempt at `delivery` and what it came to.
    pub async fn record_webhook_attempt(
        &self,
        delivery: &webhook_delivery::Model,
        outcome: &Outcome,
    ) -> Result<()> {
        let attempt = delivery
            .attempts
            .checked_add(1)
            .ok_or_else(|| Error::internal("a delivery's attempt count overflowed"))?;
        let (state, next) = outcome.next;
        self.write_unannounced(Scope::Platform, async |txn| {
            webhook_attempt::ActiveModel {
                endpoint_id: Set(delivery.endpoint_id),
                sequence: Set(delivery.sequence),
                attempt: Set(attempt),
                tenant_id: Set(delivery.tenant_id),
                time: Set(outcome.time),
                duration_ms: Set(outcome.duration_ms),
                status: Set(outcome.status),
                error: Set(outcome.error.clone()),
            }
            .insert(&**txn)
            .await?;
            webhook_delivery::Entity::update_many()
                .col_expr(webhook_delivery::Column::Attempts, Expr::value(attempt))
                .col_expr(webhook_delivery::Column::State, Expr::value(state.as_str()))
                .col_expr(webhook_delivery::Column::NextAttemptTime, Expr::value(next))
                .col_expr(
                    webhook_delivery::Column::LastStatus,
                    Expr::value(outcome.status),
                )
                .col_expr(
                    webhook_delivery::Column::LastError,
                    Expr::value(outcome.error.clone()),
                )
                .col_expr(
                    webhook_delivery::Column::UpdateTime,
                    Expr::value(Utc::now()),
                )
                .filter(webhook_delivery::Column::EndpointId.eq(delivery.endpoint_id))
                .filter(webhook_delivery::Column::Sequence.eq(delivery.sequence))
                .exec(&**txn)
                .await?;
            Ok(())
        })
        .await
    }
}
