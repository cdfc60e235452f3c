//! Idempotent creates: one flow, shared by tenants, plans, metrics and
//! flags (the catalogue's through [`IdempotentCreate::insert`]), and the
//! answers it gives when a `request_id` was seen before.
//!
//! A create with a request id remembers it in its own transaction
//! ([`insert_idempotency`]), so a retry finds the first call's entry and
//! is answered with the resource that call made, and a concurrent retry
//! loses the unique index (`REQUEST_ID_IN_USE`) instead of creating twice.

use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait};
use uuid::Uuid;

use crate::store::audit::{AuditRecord, Origin};
use crate::store::entities::idempotency_key;
use crate::store::revision::Audited;
use crate::store::scope::Scope;
use crate::store::txn::Txn;
use crate::store::write::InsertRow;
use crate::store::{REQUEST_ID_IN_USE, Store};

/// One create made idempotent by the caller's request id: what
/// [`Self::run`] needs to find, check and remember the first call.
#[derive(Debug, Clone)]
pub struct IdempotentCreate<'a> {
    /// Where the resource and its entry are written.
    pub(super) store: &'a Store,
    /// The scope entries are read and the resource written in.
    pub(super) scope: Scope,
    /// The method, e.g. `CreatePlan`: the entries' scope and the create's
    /// audit action.
    method: &'static str,
    /// The caller's request id; without one the create is an ordinary one.
    request_id: Option<Uuid>,
    /// Hash of the request's content, which a retry must repeat.
    fingerprint: String,
}

impl Store {
    /// The idempotent create of `method` in `scope` for `request_id`, with
    /// the `fingerprint` of its request's content; [`IdempotentCreate::run`]
    /// makes it.
    pub fn idempotent(
        &self,
        scope: Scope,
        method: &'static str,
        request_id: Option<Uuid>,
        fingerprint: String,
    ) -> IdempotentCreate<'_> {
        IdempotentCreate {
            store: self,
            scope,
            method,
            request_id,
            fingerprint,
        }
    }
}

/// Writes a created resource `R` in a scope with its audit record and, in
/// the same transaction, its idempotency entry (if any): e.g.
/// [`Store::insert_stored`].
pub trait Insert<R>:
    AsyncFnOnce(&Store, Scope, &R, Option<&IdempotencyEntry>, AuditRecord) -> Result<()>
{
}

impl<R, F> Insert<R> for F where
    F: AsyncFnOnce(&Store, Scope, &R, Option<&IdempotencyEntry>, AuditRecord) -> Result<()>
{
}

impl IdempotentCreate<'_> {
    /// The entry remembering that this request made `resource`, for the
    /// create's transaction; `None` without a request id.
    fn entry(&self, resource: String) -> Option<IdempotencyEntry> {
        self.request_id.map(|request_id| IdempotencyEntry {
            scope: self.method,
            request_id,
            fingerprint: self.fingerprint.clone(),
            resource,
        })
    }

    /// Creates once per request id. A retry of a call that committed is
    /// answered by `replay` of the resource that call made (INVALID_ARGUMENT
    /// when its content differs). Otherwise `build` makes the resource (and
    /// refuses what cannot be made), and `insert` writes it with its audit
    /// record by `origin` and, in the same transaction, [`Self::entry`].
    /// When a concurrent retry commits first, `insert` fails with
    /// `REQUEST_ID_IN_USE` and the winner's resource is replayed, or ABORTED
    /// `CONCURRENT_REQUEST` while the winner has not committed yet.
    pub async fn run<R: Audited>(
        &self,
        origin: &Origin,
        build: impl AsyncFnOnce() -> Result<R>,
        insert: impl Insert<R>,
        replay: impl AsyncFnOnce(&str) -> Result<R>,
    ) -> Result<Created<R>> {
        if let Some(entry) = self.first_call().await? {
            return self.replay(&entry, replay).await;
        }
        let made = build().await?;
        let entry = self.entry(made.resource_name());
        let record = made.audit(origin, self.method, None)?;
        match insert(
            self.store,
            self.scope.clone(),
            &made,
            entry.as_ref(),
            record,
        )
        .await
        {
            Ok(()) => Ok(Created::Now(made)),
            // A concurrent retry of the same request won the race.
            Err(Error::AlreadyExists { reason, .. }) if reason == REQUEST_ID_IN_USE => {
                match self.first_call().await? {
                    Some(entry) => self.replay(&entry, replay).await,
                    None => Err(in_flight()),
                }
            }
            Err(other) => Err(other),
        }
    }

    /// The entry of the first call with this request id, if it committed.
    async fn first_call(&self) -> Result<Option<IdempotencyEntry>> {
        let Some(request_id) = self.request_id else {
            return Ok(None);
        };
        self.store
            .find_idempotency_entry(self.scope.clone(), self.method, request_id)
            .await
    }

    async fn replay<R>(
        &self,
        entry: &IdempotencyEntry,
        replay: impl AsyncFnOnce(&str) -> Result<R>,
    ) -> Result<Created<R>> {
        check_same_request(entry, &self.fingerprint)?;
        replay(&entry.resource).await.map(Created::Before)
    }
}

/// What an idempotent create answers.
#[derive(Debug)]
pub enum Created<R> {
    /// This call made the resource.
    Now(R),
    /// A previous call with the same request id made it.
    Before(R),
}

impl<R> Created<R> {
    /// The resource, whoever made it.
    pub fn into_inner(self) -> R {
        match self {
            Created::Now(made) | Created::Before(made) => made,
        }
    }
}

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

/// Inserts `row`, made at `create_time`, and in the same transaction its
/// idempotency `entry` (if any), which a retry of its create then finds.
pub async fn insert_with_entry(
    txn: &Txn,
    entry: Option<&IdempotencyEntry>,
    create_time: DateTime<Utc>,
    row: impl InsertRow,
) -> Result<()> {
    insert_idempotency(txn, entry, create_time).await?;
    row.insert(txn).await?;
    Ok(())
}

impl Store {
    /// The first call made with `request_id` for `scope`, if any.
    pub async fn find_idempotency_entry(
        &self,
        data_scope: Scope,
        scope: &'static str,
        request_id: Uuid,
    ) -> Result<Option<IdempotencyEntry>> {
        let select = idempotency_key::Entity::find_by_id((scope.to_owned(), request_id));
        self.find_one(data_scope, select, |row| {
            Ok(IdempotencyEntry {
                scope,
                request_id: row.request_id,
                fingerprint: row.fingerprint,
                resource: row.resource,
            })
        })
        .await
    }
}
