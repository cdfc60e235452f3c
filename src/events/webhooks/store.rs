//! The endpoints' and deliveries' SQL that callers reach: create, read,
//! list and delete endpoints, list deliveries with their attempts, and
//! redeliver. Every query runs in the caller's scope (RLS on PostgreSQL)
//! and names the owner too, so a tenant's scope never reaches a fleet-wide
//! row nor another tenant's.
//!
//! Invariants: the secret is written once, at creation, and read only by
//! the delivery worker ([`crate::events::webhooks::queue`]); audit records
//! carry [`Endpoint::audit_snapshot`], never the secret.

use std::collections::HashMap;

use chrono::{SubsecRound, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Select, Set,
};
use uuid::Uuid;

use crate::common::ids::{TenantId, new_v7_at};
use crate::error::{Error, Result};
use crate::events::webhooks::endpoint::{
    Attempt, Delivery, DeliveryState, Endpoint, MAX_FLEET_ENDPOINTS, MAX_TENANT_ENDPOINTS,
    NewEndpoint,
};
use crate::events::webhooks::signing::SigningSecret;
use crate::store::Store;
use crate::store::audit::{AuditRecord, Origin};
use crate::store::entities::{webhook_attempt, webhook_delivery, webhook_endpoint};
use crate::store::read::Paging;
use crate::store::scope::Scope;
use crate::store::sequence::{self, Log};

/// Most attempts shown per delivery.
pub const MAX_ATTEMPTS_SHOWN: usize = 100;

/// `select` held to the endpoints of `owner` (a tenant, or the fleet's).
fn owned<E: EntityTrait, C: ColumnTrait>(
    select: Select<E>,
    column: C,
    owner: Option<TenantId>,
) -> Select<E> {
    match owner {
        Some(tenant) => select.filter(column.eq(tenant.as_uuid())),
        None => select.filter(column.is_null()),
    }
}

/// The endpoint a row holds.
pub(crate) fn endpoint_of(row: webhook_endpoint::Model) -> Result<Endpoint> {
    let event_types: Vec<String> =
        serde_json::from_str(&row.event_types).map_err(Error::internal)?;
    Ok(Endpoint {
        id: row.id,
        tenant_id: row.tenant_id.map(TenantId::from_uuid),
        url: row.url,
        event_types,
        create_time: row.create_time,
    })
}

impl Store {
    /// Creates an endpoint of `owner` with `secret`, receiving the events
    /// committed from now on.
    pub async fn create_webhook_endpoint(
        &self,
        scope: Scope,
        origin: &Origin,
        owner: Option<TenantId>,
        new: NewEndpoint,
        secret: &SigningSecret,
    ) -> Result<Endpoint> {
        // Microseconds, as PostgreSQL keeps them, so the answer is what a
        // read gives back.
        let now = Utc::now().trunc_subsecs(6);
        let endpoint = Endpoint {
            id: new_v7_at(now),
            tenant_id: owner,
            url: new.url.to_string(),
            event_types: new.event_types,
            create_time: now,
        };
        let snapshot = Some(endpoint.audit_snapshot());
        let audit = match owner {
            Some(tenant) => AuditRecord::new(
                origin,
                "CreateWebhookEndpoint",
                tenant,
                endpoint.name(),
                None,
                snapshot,
            ),
            None => AuditRecord::platform(
                origin,
                "CreateWebhookEndpoint",
                endpoint.name(),
                None,
                snapshot,
            ),
        };
        let limit = match owner {
            Some(_) => MAX_TENANT_ENDPOINTS,
            None => MAX_FLEET_ENDPOINTS,
        };
        let backend = self.backend();
        let types = serde_json::to_string(&endpoint.event_types).map_err(Error::internal)?;
        let row = webhook_endpoint::ActiveModel {
            id: Set(endpoint.id),
            tenant_id: Set(owner.map(|id| id.as_uuid())),
            url: Set(endpoint.url.clone()),
            event_types: Set(types),
            secret: Set(secret.expose().to_owned()),
            create_time: Set(now),
            fanned_through: Set(0),
            lease_owner: Set(None),
            lease_until: Set(None),
            claim_time: Set(now),
        };
        self.write_in(scope, audit, async |txn| {
            let existing = owned(
                webhook_endpoint::Entity::find(),
                webhook_endpoint::Column::TenantId,
                owner,
            )
            .count(&**txn)
            .await?;
            if existing >= limit {
                return Err(Error::failed_precondition(
                    "WEBHOOK_ENDPOINT_LIMIT",
                    "WEBHOOK_ENDPOINT_COUNT",
                    "webhookEndpoints",
                    format!("at most {limit} endpoints per owner; delete one first"),
                ));
            }
            let head = sequence::bounds_in(txn, backend, Log::Events)
                .await?
                .current;
            let mut row = row;
            row.fanned_through = Set(head);
            row.insert(&**txn).await?;
            Ok(())
        })
        .await?;
        Ok(endpoint)
    }

    /// The endpoint `id` of `owner`, if it exists in `scope`.
    pub async fn webhook_endpoint(
        &self,
        scope: Scope,
        owner: Option<TenantId>,
        id: Uuid,
    ) -> Result<Option<Endpoint>> {
        let select = owned(
            webhook_endpoint::Entity::find_by_id(id),
            webhook_endpoint::Column::TenantId,
            owner,
        );
        self.find_one(scope, select, endpoint_of).await
    }

    /// Up to `limit` endpoints of `owner` after `after`, oldest first.
    pub async fn webhook_endpoints(
        &self,
        scope: Scope,
        owner: Option<TenantId>,
        after: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<Endpoint>> {
        let select = owned(
            webhook_endpoint::Entity::find(),
            webhook_endpoint::Column::TenantId,
            owner,
        )
        .after(webhook_endpoint::Column::Id, after)
        .order_by_asc(webhook_endpoint::Column::Id)
        .limit(limit);
        self.find_all(scope, select, endpoint_of).await
    }

    /// Deletes the endpoint `id` of `owner` with its deliveries and
    /// attempts; `false` when there was none.
    pub async fn delete_webhook_endpoint(
        &self,
        scope: Scope,
        origin: &Origin,
        owner: Option<TenantId>,
        id: Uuid,
    ) -> Result<bool> {
        let Some(endpoint) = self.webhook_endpoint(scope.clone(), owner, id).await? else {
            return Ok(false);
        };
        let snapshot = Some(endpoint.audit_snapshot());
        let audit = match owner {
            Some(tenant) => AuditRecord::new(
                origin,
                "DeleteWebhookEndpoint",
                tenant,
                endpoint.name(),
                snapshot,
                None,
            ),
            None => AuditRecord::platform(
                origin,
                "DeleteWebhookEndpoint",
                endpoint.name(),
                snapshot,
                None,
            ),
        };
        self.write_if_changed(scope, audit, async |txn| {
            webhook_attempt::Entity::delete_many()
                .filter(webhook_attempt::Column::EndpointId.eq(id))
                .exec(&**txn)
                .await?;
            webhook_delivery::Entity::delete_many()
                .filter(webhook_delivery::Column::EndpointId.eq(id))
                .exec(&**txn)
                .await?;
            let deleted = webhook_endpoint::Entity::delete_many()
                .filter(webhook_endpoint::Column::Id.eq(id))
                .filter(match owner {
                    Some(tenant) => webhook_endpoint::Column::TenantId.eq(tenant.as_uuid()),
                    None => webhook_endpoint::Column::TenantId.is_null(),
                })
                .exec(&**txn)
                .await?;
            Ok(deleted.rows_affected)
        })
        .await
    }

    /// Up to `limit` deliveries of the endpoint `id` of `owner` (in
    /// `state`, when given) before the sequence `before`, newest first,
    /// with their latest attempts.
    pub async fn webhook_deliveries(
        &self,
        scope: Scope,
        (owner, id): (Option<TenantId>, Uuid),
        state: Option<DeliveryState>,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<Delivery>> {
        let mut select = owned(
            webhook_delivery::Entity::find(),
            webhook_delivery::Column::TenantId,
            owner,
        )
        .filter(webhook_delivery::Column::EndpointId.eq(id))
        .order_by_desc(webhook_delivery::Column::Sequence)
        .limit(limit);
        if let Some(state) = state {
            select = select.filter(webhook_delivery::Column::State.eq(state.as_str()));
        }
        if let Some(before) = before {
            select = select.filter(webhook_delivery::Column::Sequence.lt(before));
        }
        let rows = self.find_all(scope.clone(), select, Ok).await?;
        let sequences: Vec<i64> = rows.iter().map(|row| row.sequence).collect();
        let attempts = owned(
            webhook_attempt::Entity::find(),
            webhook_attempt::Column::TenantId,
            owner,
        )
        .filter(webhook_attempt::Column::EndpointId.eq(id))
        .filter(webhook_attempt::Column::Sequence.is_in(sequences))
        .order_by_asc(webhook_attempt::Column::Sequence)
        .order_by_asc(webhook_attempt::Column::Attempt);
        let mut by_sequence: HashMap<i64, Vec<Attempt>> = HashMap::new();
        for row in self.find_all(scope, attempts, Ok).await? {
            by_sequence
                .entry(row.sequence)
                .or_default()
                .push(attempt_of(row));
        }
        rows.into_iter()
            .map(|row| {
                let mut attempts = by_sequence.remove(&row.sequence).unwrap_or_default();
                let excess = attempts.len().saturating_sub(MAX_ATTEMPTS_SHOWN);
                attempts.drain(..excess);
                delivery_of(row, attempts)
            })
            .collect()
    }

    /// Makes the delivery of `sequence` to the endpoint `id` of `owner`
    /// pending again, due now, with a new retry window. FAILED_PRECONDITION
    /// while it is pending; `None` when there is no such delivery.
    pub async fn redeliver_webhook(
        &self,
        scope: Scope,
        origin: &Origin,
        (owner, id): (Option<TenantId>, Uuid),
        sequence: i64,
    ) -> Result<Option<Delivery>> {
        let find = owned(
            webhook_delivery::Entity::find_by_id((id, sequence)),
            webhook_delivery::Column::TenantId,
            owner,
        );
        let Some(row) = self.find_one(scope.clone(), find, Ok).await? else {
            return Ok(None);
        };
        let current = delivery_of(row.clone(), Vec::new())?;
        if current.state == DeliveryState::Pending {
            return Err(Error::failed_precondition(
                "WEBHOOK_DELIVERY_PENDING",
                "WEBHOOK_DELIVERY_STATE",
                current.name(),
                "the delivery is still pending; it is being attempted",
            ));
        }
        let snapshot = |state: DeliveryState| serde_json::json!({"name": current.name(), "event_id": current.event_id, "state": state.as_str()});
        let (before, after) = (
            Some(snapshot(current.state)),
            Some(snapshot(DeliveryState::Pending)),
        );
        let audit = match owner {
            Some(tenant) => AuditRecord::new(
                origin,
                "RedeliverWebhookDelivery",
                tenant,
                current.name(),
                before,
                after,
            ),
            None => AuditRecord::platform(
                origin,
                "RedeliverWebhookDelivery",
                current.name(),
                before,
                after,
            ),
        };
        let now = Utc::now();
        let previous = row.state.clone();
        let changed = self
            .write_if_changed(scope, audit, async |txn| {
                let updated = webhook_delivery::Entity::update_many()
                    .col_expr(
                        webhook_delivery::Column::State,
                        Expr::value(DeliveryState::Pending.as_str()),
                    )
                    .col_expr(webhook_delivery::Column::NextAttemptTime, Expr::value(now))
                    .col_expr(webhook_delivery::Column::RetrySince, Expr::value(now))
                    .col_expr(webhook_delivery::Column::UpdateTime, Expr::value(now))
                    .filter(webhook_delivery::Column::EndpointId.eq(id))
                    .filter(webhook_delivery::Column::Sequence.eq(sequence))
                    .filter(webhook_delivery::Column::State.eq(previous))
                    .exec(&**txn)
                    .await?;
                Ok(updated.rows_affected)
            })
            .await?;
        if !changed {
            return Err(Error::concurrent_modification(format!(
                "{} changed during the redelivery; read it again",
                current.name()
            )));
        }
        Ok(Some(Delivery {
            state: DeliveryState::Pending,
            next_attempt_time: now,
            ..current
        }))
    }
}

/// The attempt a row holds.
fn attempt_of(row: webhook_attempt::Model) -> Attempt {
    Attempt {
        attempt: row.attempt,
        time: row.time,
        status: row.status,
        error: row.error,
        duration_ms: row.duration_ms,
    }
}

/// The delivery a row holds, with `attempts`.
pub(crate) fn delivery_of(
    row: webhook_delivery::Model,
    attempts: Vec<Attempt>,
) -> Result<Delivery> {
    Ok(Delivery {
        endpoint_id: row.endpoint_id,
        tenant_id: row.tenant_id.map(TenantId::from_uuid),
        sequence: row.sequence,
        event_id: row.event_id,
        subject: row.subject,
        state: DeliveryState::from_stored(&row.state)?,
        next_attempt_time: row.next_attempt_time,
        attempts,
    })
}
