//! The answers every idempotent create gives when its `request_id` was
//! seen before: one rule, shared by tenants, plans, metrics and flags.

use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait};
use uuid::Uuid;

use crate::store::entities::idempotency_key;

/// Refuses a retry whose content differs from the first request's.
pub fn check_same_request(entry: &IdempotencyEntry, fingerprint: &str) -> Result<()> {
    if entry.fingerprint != fingerprint {
        return Err(Error::invalid_field(
            "request_id",
            "was already used for a different request; use a new request_id",
        ));
    }
    Ok(())
}

/// The answer when another call with the same `request_id` holds it but
/// has not committed yet.
pub fn in_flight() -> Error {
    Error::Aborted {
        reason: "CONCURRENT_REQUEST",
        message: "a request with the same request_id is in flight; retry".to_owned(),
    }
}

/// A remembered create request: which resource its first call made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyEntry {
    /// The method, e.g. `CreateTenant`.
    pub scope: &'static str,
    /// The caller's request id.
    pub request_id: Uuid,
    /// Hash of the request's content.
    pub fingerprint: String,
    /// The resource the first call created.
    pub resource: String,
}

/// Remembers `entry`, if there is one, in the transaction of the create it
/// belongs to: a second create with the same request id then hits the
/// unique index (`REQUEST_ID_IN_USE`) instead of creating twice.
pub async fn insert_idempotency(
    txn: &impl ConnectionTrait,
    entry: Option<&IdempotencyEntry>,
    create_time: DateTime<Utc>,
) -> Result<()> {
    let Some(entry) = entry else {
        return Ok(());
    };
    idempotency_key::ActiveModel {
        scope: Set(entry.scope.to_owned()),
        request_id: Set(entry.request_id),
        fingerprint: Set(entry.fingerprint.clone()),
        resource: Set(entry.resource.clone()),
        create_time: Set(create_time),
    }
    .insert(txn)
    .await?;
    Ok(())
}
