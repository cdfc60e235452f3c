//! Usage ingestion: a batch of events is checked event by event, deduped,
//! and its accepted events recorded in one transaction (the aggregation job
//! adds them to the rollups afterwards, see `usage_rollups.rs`).
//!
//! Invariants kept here:
//! - one bad event never fails a batch: it becomes a [`Rejection`]; only
//!   failures of tenantd itself (the database) fail the call, and then
//!   nothing of the batch is recorded;
//! - every tenant named by a batch is reached through [`Gate::scope_for`],
//!   so a tenant API key records only for its own tenant and service
//!   callers only for usable tenants; a tenant the caller may not reach is
//!   rejected exactly like one that does not exist;
//! - an event is a duplicate when its (tenant, `event_id`) was recorded
//!   before or earlier in the batch; the first occurrence wins. Storage
//!   detects recorded ones in the transaction that inserts (`ON CONFLICT DO
//!   NOTHING`), so concurrent reporters cannot both count an event;
//! - an outcome is returned only after the transaction committed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock};

use chrono::Utc;

use crate::access::Gate;
use crate::access::ResolveTarget;
use crate::access::{Caller, TenantContext, TenantScope};
use crate::common::ids::{TenantId, TenantRef};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::scope::Scope;
use crate::usage::event::{
    Checks, EventProblem, RawEvent, Rejection, RejectionReason, UsageSettings, ValidEvent,
    precheck, problem, validate,
};
use crate::usage::metric::Metric;
use crate::usage::metrics::Metrics;

/// Most events in one batch.
pub const MAX_BATCH_EVENTS: usize = 1000;
/// Most bytes of one encoded batch.
pub const MAX_BATCH_BYTES: usize = 1 << 20;

/// What became of a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Events recorded by this batch.
    pub accepted: usize,
    /// Events recorded before, or earlier in the batch.
    pub duplicates: usize,
    /// Rejected events, in batch order.
    pub rejected: Vec<Rejection>,
}

/// Ingestion and queries; cheap to clone.
#[derive(Clone)]
pub struct Usage {
    /// Where events and rollups are stored.
    pub(crate) store: Store,
    /// The catalogue events are checked against.
    pub(crate) metrics: Metrics,
    /// Scopes callers to the tenants they may reach.
    gate: Gate,
    /// The acceptance window.
    pub(crate) settings: UsageSettings,
    /// Metrics events were checked against, by key. Validation reads only
    /// a metric's key, aggregation and unique dimension, which never change,
    /// and metrics are never deleted, so an entry never goes stale; only
    /// metrics that exist are kept, so it holds at most the catalogue.
    known: Arc<RwLock<HashMap<String, Metric>>>,
}

/// A batch checked by [`Usage::prepare`], waiting for [`Usage::record`].
#[derive(Debug)]
pub struct PreparedBatch {
    /// Rejections and in-batch duplicates so far.
    outcome: BatchOutcome,
    /// The valid events by tenant scope.
    batches: Vec<(Scope, Vec<ValidEvent>)>,
    /// How many valid events `batches` holds.
    valid: usize,
}

/// The tenant of one event, as far as the caller may know it.
type TenantCheck = std::result::Result<TenantScope, EventProblem>;

/// An event with the outcome of its [`precheck`].
type Prechecked = (RawEvent, std::result::Result<(), EventProblem>);

/// Valid events by tenant, with the scope they are recorded in.
type Groups = BTreeMap<TenantId, (TenantScope, Vec<ValidEvent>)>;

fn tenant_not_found() -> EventProblem {
    problem(
        RejectionReason::TenantNotFound,
        "tenant",
        "does not exist or is not one the caller may report for",
    )
}

fn malformed_tenant() -> EventProblem {
    problem(
        RejectionReason::Invalid,
        "tenant",
        "must be tenants/{id} or tenants/slug:{slug}",
    )
}

impl Usage {
    /// Ingestion over `store`, checking events against `metrics`.
    pub fn new(store: Store, metrics: Metrics, gate: Gate, settings: UsageSettings) -> Self {
        Self {
            store,
            metrics,
            gate,
            settings,
            known: Arc::default(),
        }
    }

    /// Checks a batch's size: 1 to [`MAX_BATCH_EVENTS`] events and at most
    /// [`MAX_BATCH_BYTES`] encoded.
    pub fn check_batch(events: usize, bytes: usize, field: &str) -> Result<()> {
        if events == 0 || events > MAX_BATCH_EVENTS {
            return Err(Error::invalid_field(
                field,
                format!("must hold 1 to {MAX_BATCH_EVENTS} events, not {events}"),
            ));
        }
        if bytes > MAX_BATCH_BYTES {
            return Err(Error::invalid_field(
                field,
                format!(
                    "must be at most {MAX_BATCH_BYTES} bytes encoded, not {bytes}; send smaller batches"
                ),
            ));
        }
        Ok(())
    }

    /// Records a batch for the caller of `context`; see the module docs.
    pub async fn report(
        &self,
        context: &TenantContext,
        events: Vec<RawEvent>,
    ) -> Result<BatchOutcome> {
        let prepared = self.prepare(context, events).await?;
        self.record(prepared).await
    }

    /// Checks a batch for the caller of `context` without writing
    /// anything: the first half of [`Self::report`], so that a stream can
    /// check its next batch while the previous one commits.
    pub async fn prepare(
        &self,
        context: &TenantContext,
        events: Vec<RawEvent>,
    ) -> Result<PreparedBatch> {
        let now = Utc::now();
        // Only events that passed every check without a lookup are looked
        // up: a refused one's text never reaches a query.
        let events: Vec<Prechecked> = events
            .into_iter()
            .map(|event| {
                let checked = precheck(&event);
                (event, checked)
            })
            .collect();
        let passed = || {
            events
                .iter()
                .filter(|(_, checked)| checked.is_ok())
                .map(|(event, _)| event)
        };
        let tenants = self.check_tenants(context, passed()).await?;
        let keys: HashSet<&str> = passed().map(|event| event.metric.as_str()).collect();
        let metrics = self.catalogue(keys).await?;
        let checks = Checks {
            now,
            settings: &self.settings,
            metrics: &metrics,
        };
        let (outcome, groups) = triage(events, &tenants, &checks);
        let valid = groups.values().map(|(_, events)| events.len()).sum();
        let batches = groups
            .into_values()
            .map(|(scope, events)| (Scope::from(&scope), events))
            .collect();
        Ok(PreparedBatch {
            outcome,
            batches,
            valid,
        })
    }

    /// Records a checked batch in one transaction; answers once it
    /// committed. Events recorded meanwhile (by an earlier batch or another
    /// reporter) count as duplicates, as the insert itself finds them.
    pub async fn record(&self, prepared: PreparedBatch) -> Result<BatchOutcome> {
        let PreparedBatch {
            mut outcome,
            batches,
            valid,
        } = prepared;
        outcome.accepted = if batches.is_empty() {
            0
        } else {
            self.store.record_usage(&batches).await?
        };
        outcome.duplicates += valid - outcome.accepted;
        count_ingested(&outcome);
        tracing::debug!(
            accepted = outcome.accepted,
            duplicates = outcome.duplicates,
            rejected = outcome.rejected.len(),
            "usage batch recorded"
        );
        Ok(outcome)
    }

    /// The catalogue's metrics among `keys`. Known ones come from
    /// [`Self::known`]; the others are read, so a metric created a moment
    /// ago is usable at once and an unknown key is looked up every time.
    async fn catalogue(&self, keys: HashSet<&str>) -> Result<HashMap<String, Metric>> {
        let mut found = HashMap::with_capacity(keys.len());
        let mut missing = Vec::new();
        {
            let known = self
                .known
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            for key in keys {
                match known.get(key) {
                    Some(metric) => {
                        found.insert(key.to_owned(), metric.clone());
                    }
                    None => missing.push(key),
                }
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let read = self.metrics.find(&missing).await?;
        let mut known = self
            .known
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for metric in read {
            known.insert(metric.key.clone(), metric.clone());
            found.insert(metric.key.clone(), metric);
        }
        Ok(found)
    }

    /// The scope of the live tenant `by` names. Operators' scopes are not
    /// checked against the directory by the gate (they may act on deleted
    /// tenants), but usage is recorded only for tenants that exist.
    async fn reach(&self, context: &TenantContext, by: &TenantRef) -> Result<TenantScope> {
        let scope = self.gate.scope_for(context, by).await?;
        if matches!(context.caller, Caller::Admin { .. }) {
            let target = ResolveTarget::TenantId(scope.tenant_id());
            self.gate.resolve(&target).await?;
        }
        Ok(scope)
    }

    /// The scope of every distinct tenant the batch names, or why events
    /// naming it are rejected. An empty tenant is the one the call names
    /// (a tenant key's own tenant, or `x-tenant-id`).
    async fn check_tenants(
        &self,
        context: &TenantContext,
        events: impl Iterator<Item = &RawEvent>,
    ) -> Result<HashMap<String, TenantCheck>> {
        let mut checked = HashMap::new();
        for event in events {
            if checked.contains_key(&event.tenant) {
                continue;
            }
            let by = if event.tenant.is_empty() {
                context
                    .tenant
                    .as_ref()
                    .map(|named| Ok(TenantRef::Id(named.id)))
            } else {
                Some(TenantRef::parse_name(&event.tenant, "tenant"))
            };
            let check = match by {
                None => Err(problem(
                    RejectionReason::Invalid,
                    "tenant",
                    "is required: tenants/{id} or tenants/slug:{slug}",
                )),
                Some(Err(_)) => Err(malformed_tenant()),
                Some(Ok(by)) => match self.reach(context, &by).await {
                    Ok(scope) => Ok(scope),
                    Err(
                        Error::NotFound { .. }
                        | Error::PermissionDenied { .. }
                        | Error::FailedPrecondition { .. },
                    ) => Err(tenant_not_found()),
                    Err(Error::InvalidArgument(_)) => Err(malformed_tenant()),
                    // The database failing is not the event's fault.
                    Err(other) => return Err(other),
                },
            };
            checked.insert(event.tenant.clone(), check);
        }
        Ok(checked)
    }
}

/// The events of each tenant, one per (tenant, `event_id`) and in batch
/// order, and the outcome so far: rejections (whose messages name the field
/// as `events[{index}].{field}`) and in-batch duplicates.
fn triage(
    events: Vec<Prechecked>,
    tenants: &HashMap<String, TenantCheck>,
    checks: &Checks<'_>,
) -> (BatchOutcome, Groups) {
    let mut outcome = BatchOutcome::default();
    let mut seen: HashSet<(TenantId, String)> = HashSet::new();
    let mut groups: Groups = BTreeMap::new();
    for (index, (event, prechecked)) in events.into_iter().enumerate() {
        let event_id = event.event_id.clone();
        let checked = prechecked
            .and_then(|()| {
                tenants
                    .get(&event.tenant)
                    .cloned()
                    .unwrap_or_else(|| Err(tenant_not_found()))
            })
            .and_then(|scope| Ok((scope, validate(event, scope.tenant_id(), checks)?)));
        match checked {
            Err((reason, message)) => outcome.rejected.push(Rejection {
                index,
                event_id,
                reason,
                message: format!("events[{index}].{message}"),
            }),
            Ok((_, valid)) if !seen.insert((valid.tenant_id, event_id)) => {
                outcome.duplicates += 1;
            }
            Ok((scope, valid)) => groups
                .entry(valid.tenant_id)
                .or_insert_with(|| (scope, Vec::new()))
                .1
                .push(valid),
        }
    }
    (outcome, groups)
}

/// The counter of usage events received, by `outcome` (accepted,
/// duplicate, rejected).
pub const EVENTS_INGESTED: &str = "tenantd_usage_events_ingested_total";

/// Counts a recorded batch's events in [`EVENTS_INGESTED`].
fn count_ingested(outcome: &BatchOutcome) {
    let counts = [
        ("accepted", outcome.accepted),
        ("duplicate", outcome.duplicates),
        ("rejected", outcome.rejected.len()),
    ];
    for (label, count) in counts {
        if count > 0 {
            metrics::counter!(EVENTS_INGESTED, "outcome" => label).increment(count as u64);
        }
    }
}
