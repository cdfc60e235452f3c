//! The delivery worker: every replica runs one. Each poll it claims the
//! endpoints no replica holds (up to its concurrency), and works each in
//! a task of its own: fan new events out into deliveries, then attempt
//! the due ones in sequence order, until nothing is due.
//!
//! Invariants:
//! - events of one subject reach an endpoint in order: within a pass, a
//!   subject whose earlier delivery failed or is waiting is skipped until
//!   that one is delivered or dead-lettered;
//! - one slow or failing endpoint holds one task and its own lease only;
//!   the others' tasks go on;
//! - memory is bounded: at most `concurrency` endpoints at once, each
//!   holding at most [`PENDING_BATCH`] deliveries and [`FAN_OUT_BATCH`]
//!   events; everything else waits in the database.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::{JoinHandle, JoinSet};
use uuid::Uuid;

use crate::common::ids::new_v7_at;
use crate::error::{Result, error_chain};
use crate::events::webhooks::WebhookSettings;
use crate::events::webhooks::backoff;
use crate::events::webhooks::endpoint::DeliveryState;
use crate::events::webhooks::queue::{Claimed, Outcome};
use crate::events::webhooks::send::Sender;
use crate::store::Store;
use crate::store::entities::webhook_delivery;
use crate::store::outbox::OutboxEvent;

/// Events read per fan-out.
pub const FAN_OUT_BATCH: u64 = 500;
/// Pending deliveries read per pass.
pub const PENDING_BATCH: u64 = 200;

/// Starts this replica's worker, which runs until aborted; none when
/// `settings.concurrency` is 0 (a replica that only serves calls).
pub fn spawn(store: Store, settings: WebhookSettings) -> Result<Option<JoinHandle<()>>> {
    if settings.concurrency == 0 {
        return Ok(None);
    }
    let sender = Sender::new(settings.policy.clone(), settings.timeout)?;
    let worker = Worker {
        store,
        sender,
        // The process id first, so an operator can tell which replica
        // holds an endpoint.
        owner: format!("{}:{}", std::process::id(), new_v7_at(Utc::now())),
        settings,
    };
    Ok(Some(tokio::spawn(worker.run())))
}

/// One replica's worker.
#[derive(Clone)]
struct Worker {
    /// Where endpoints and deliveries are.
    store: Store,
    /// Posts events.
    sender: Sender,
    /// This replica's name in leases.
    owner: String,
    /// Retries, leases, concurrency.
    settings: WebhookSettings,
}

impl Worker {
    async fn run(self) {
        let mut tasks: JoinSet<()> = JoinSet::new();
        let mut busy: HashMap<tokio::task::Id, Uuid> = HashMap::new();
        let mut ticks = tokio::time::interval(self.settings.poll_interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => self.claim(&mut tasks, &mut busy).await,
                Some(done) = tasks.join_next_with_id() => {
                    let task = match done {
                        Ok((task, ())) => task,
                        Err(error) => {
                            tracing::error!(error = %error, "a webhook endpoint task ended abnormally; its lease lapses");
                            error.id()
                        }
                    };
                    busy.remove(&task);
                }
            }
        }
    }

    async fn claim(&self, tasks: &mut JoinSet<()>, busy: &mut HashMap<tokio::task::Id, Uuid>) {
        let free = self.settings.concurrency.saturating_sub(busy.len());
        if free == 0 {
            return;
        }
        let until = lease_end(self.settings.lease);
        let busy_ids: Vec<Uuid> = busy.values().copied().collect();
        let limit = u64::try_from(free).unwrap_or(u64::MAX);
        let claimed = match self
            .store
            .claim_webhook_endpoints(&self.owner, until, limit, &busy_ids)
            .await
        {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(error = %error_chain(&error), "claiming webhook endpoints failed; retrying at the next poll");
                return;
            }
        };
        for endpoint in claimed {
            let id = endpoint.endpoint.id;
            let worker = self.clone();
            let handle = tasks.spawn(async move {
                if let Err(error) = worker.work(endpoint).await {
                    tracing::warn!(endpoint = %id, error = %error_chain(&error), "webhook delivery pass failed; retrying at the next poll");
                }
                if let Err(error) = worker.store.renew_webhook_lease(id, &worker.owner, None).await {
                    tracing::debug!(endpoint = %id, error = %error_chain(&error), "releasing a webhook lease failed; it lapses");
                }
            });
            busy.insert(handle.id(), id);
        }
    }

    /// Works one claimed endpoint until nothing is due.
    async fn work(&self, mut claimed: Claimed) -> Result<()> {
        let id = claimed.endpoint.id;
        let mut lease_until = lease_end(self.settings.lease);
        loop {
            let fanned = self
                .store
                .fan_out_webhook(&mut claimed, &self.owner, FAN_OUT_BATCH)
                .await?;
            let pending = self
                .store
                .pending_webhook_deliveries(id, PENDING_BATCH)
                .await?;
            let mut blocked: HashSet<String> = HashSet::new();
            let mut attempted = 0usize;
            for (delivery, event) in pending {
                if blocked.contains(&delivery.subject) {
                    continue;
                }
                if delivery.next_attempt_time > Utc::now() {
                    blocked.insert(delivery.subject.clone());
                    continue;
                }
                if !self.keep_lease(id, &mut lease_until).await? {
                    return Ok(());
                }
                let outcome = self.attempt(&claimed, &delivery, event.as_ref()).await;
                self.store
                    .record_webhook_attempt(&delivery, &outcome)
                    .await?;
                attempted = attempted.saturating_add(1);
                if outcome.next.0 == DeliveryState::Pending {
                    blocked.insert(delivery.subject.clone());
                }
            }
            if attempted == 0 && fanned == 0 {
                return Ok(());
            }
            if !self.keep_lease(id, &mut lease_until).await? {
                return Ok(());
            }
        }
    }

    /// Renews the lease when half of it is gone; `false` once it is lost.
    async fn keep_lease(&self, id: Uuid, lease_until: &mut DateTime<Utc>) -> Result<bool> {
        let half = chrono::Duration::from_std(self.settings.lease / 2).unwrap_or_default();
        if *lease_until - Utc::now() > half {
            return Ok(true);
        }
        let until = lease_end(self.settings.lease);
        let kept = self
            .store
            .renew_webhook_lease(id, &self.owner, Some(until))
            .await?;
        if kept {
            *lease_until = until;
        } else {
            tracing::info!(endpoint = %id, "webhook endpoint lease lost; another replica delivers to it");
        }
        Ok(kept)
    }

    /// One attempt at `delivery`, and what it comes to.
    async fn attempt(
        &self,
        claimed: &Claimed,
        delivery: &webhook_delivery::Model,
        event: Option<&OutboxEvent>,
    ) -> Outcome {
        let time = Utc::now();
        let Some(event) = event else {
            return Outcome {
                time,
                duration_ms: 0,
                status: None,
                error: Some("the event is no longer kept".to_owned()),
                next: (DeliveryState::Dead, time),
            };
        };
        let sent = self
            .sender
            .send(&claimed.endpoint.url, &claimed.secret, event)
            .await;
        let duration_ms = i64::try_from(sent.duration.as_millis()).unwrap_or(i64::MAX);
        let status = sent.status.map(i32::from);
        let next = match &sent.error {
            None => (DeliveryState::Delivered, Utc::now()),
            Some(_) => self.after_failure(delivery),
        };
        Outcome {
            time,
            duration_ms,
            status,
            error: sent.error,
            next,
        }
    }

    /// A failed delivery's next state: retried after the backoff, or
    /// dead-lettered once its retry window has passed.
    fn after_failure(&self, delivery: &webhook_delivery::Model) -> (DeliveryState, DateTime<Utc>) {
        let now = Utc::now();
        let window =
            chrono::Duration::from_std(self.settings.retry_window).unwrap_or(chrono::Duration::MAX);
        if now - delivery.retry_since >= window {
            return (DeliveryState::Dead, now);
        }
        let failures = u32::try_from(delivery.attempts)
            .unwrap_or(0)
            .saturating_add(1);
        let wait = backoff::delay(
            failures,
            self.settings.backoff_base,
            self.settings.backoff_max,
            backoff::jitter(),
        );
        let next = now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
        // A retry beyond the window is not made: the last attempt is at
        // its end.
        let last = delivery.retry_since + window;
        (DeliveryState::Pending, next.min(last.max(now)))
    }
}

/// When a lease of `lease` taken now ends.
fn lease_end(lease: Duration) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX)
}
