//! The sink's task: connect, make sure the stream exists, then publish the
//! outbox page by page after the `nats` cursor, under the sink's lock,
//! whenever the log moves; on any failure, back off and start again from
//! the cursor.
//!
//! Invariants: see [`crate::events::nats`]. In particular the cursor only
//! ever names an event the stream acked with every event before it, and
//! events are sent in sequence order on one connection.

use std::collections::VecDeque;
use std::time::Duration;

use async_nats::jetstream::{self, message::PublishMessage, stream};
use tokio::sync::watch;

use crate::common::shutdown::stopped;
use crate::error::{Error, Result};
use crate::events::cloud;
use crate::events::nats::{
    DUPLICATES, FAILURES, HEALTHY, LAG, NatsSettings, PUBLISHED, SINK, subject_of,
};
use crate::events::store::EventFilter;
use crate::store::Store;
use crate::store::lock::LockKey;
use crate::store::scope::Scope;

/// Events read and published under one hold of the lock.
const PAGE: u64 = 1000;
/// Publishes awaiting their ack at once.
const IN_FLIGHT: usize = 256;
/// How long an ack may take.
const ACK_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the log is read without a change notification, and how long
/// a replica that found the lock taken waits before trying again.
const BACKSTOP: Duration = Duration::from_secs(1);
/// The first and the longest wait after a failure.
const BACKOFF_FIRST: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// The CloudEvents structured-mode media type, in `Content-Type`.
const CONTENT_TYPE: &str = "application/cloudevents+json";

/// Starts the sink, which runs until `stopping` turns true.
pub fn spawn(
    store: Store,
    settings: NatsSettings,
    stopping: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(store, settings, stopping))
}

async fn run(store: Store, settings: NatsSettings, mut stopping: watch::Receiver<bool>) {
    let mut backoff = BACKOFF_FIRST;
    let mut failures: u64 = 0;
    metrics::gauge!(HEALTHY).set(0.0);
    loop {
        let outcome = tokio::select! {
            outcome = session(&store, &settings, &mut failures) => outcome,
            () = stopped(&mut stopping) => return,
        };
        let Err(error) = outcome else { return };
        if failures == 0 {
            // It was healthy: this outage starts from the first wait.
            backoff = BACKOFF_FIRST;
        }
        failures = failures.saturating_add(1);
        metrics::gauge!(HEALTHY).set(0.0);
        metrics::counter!(FAILURES).increment(1);
        tracing::warn!(
            %error,
            stream = %settings.stream,
            failures,
            retry_in = ?backoff,
            "the NATS event sink failed; nothing is lost, retrying from its cursor"
        );
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = stopped(&mut stopping) => return,
        }
        backoff = backoff.saturating_mul(2).min(BACKOFF_MAX);
    }
}

/// One connection's life: returns only with the failure that ended it.
async fn session(store: &Store, settings: &NatsSettings, failures: &mut u64) -> Result<()> {
    let client = async_nats::ConnectOptions::new()
        .name("tenantd-events")
        .connection_timeout(Duration::from_secs(5))
        .connect(settings.url.as_str())
        .await
        .map_err(|error| unavailable("connecting to NATS", &error))?;
    let context = jetstream::ContextBuilder::new()
        .timeout(ACK_TIMEOUT)
        .max_ack_inflight(IN_FLIGHT)
        .build(client);
    ensure_stream(&context, settings).await?;
    let mut changes = store.changes();
    loop {
        let published = publish_pages(store, &context, settings).await?;
        if *failures > 0 {
            tracing::info!(stream = %settings.stream, "the NATS event sink is publishing again");
            *failures = 0;
        }
        metrics::gauge!(HEALTHY).set(1.0);
        if published {
            continue;
        }
        tokio::select! {
            change = changes.next() => if change.is_none() {
                return Err(Error::internal("the change feed ended"));
            },
            () = tokio::time::sleep(BACKSTOP) => {}
        }
    }
}

/// Creates the stream when it is missing; leaves an existing one as the
/// operator configured it.
async fn ensure_stream(context: &jetstream::Context, settings: &NatsSettings) -> Result<()> {
    let stream = context
        .get_or_create_stream(stream::Config {
            name: settings.stream.clone(),
            subjects: vec![settings.stream_subjects()],
            storage: stream::StorageType::File,
            duplicate_window: settings.duplicate_window,
            ..Default::default()
        })
        .await
        .map_err(|error| unavailable("getting or creating the JetStream stream", &error))?;
    let window = stream.cached_info().config.duplicate_window;
    tracing::info!(
        stream = %settings.stream,
        subjects = %settings.stream_subjects(),
        duplicate_window = ?window,
        "the NATS event sink is connected"
    );
    Ok(())
}

/// Publishes pages under the lock until the log is drained or another
/// replica holds the lock; answers whether a full page was sent (so more
/// may wait).
async fn publish_pages(
    store: &Store,
    context: &jetstream::Context,
    settings: &NatsSettings,
) -> Result<bool> {
    let Some(lock) = store.try_job_lock(LockKey::EventsNats).await? else {
        // Another replica publishes; try again after the backstop.
        return Ok(false);
    };
    let outcome = publish_page(store, context, settings).await;
    lock.release().await?;
    let (cursor, sent) = outcome?;
    let bounds = store.event_bounds().await?;
    let lag = bounds.current.saturating_sub(cursor).max(0);
    metrics::gauge!(LAG).set(lag as f64);
    Ok(sent == PAGE)
}

/// Publishes one page after the cursor and advances the cursor over the
/// acked prefix, even when a later publish failed; answers the cursor and
/// how many events were read.
async fn publish_page(
    store: &Store,
    context: &jetstream::Context,
    settings: &NatsSettings,
) -> Result<(i64, u64)> {
    let cursor = store.event_cursor(SINK).await?;
    let page = store
        .events_after(Scope::Platform, cursor, PAGE, &EventFilter::default())
        .await?;
    let read = page.len() as u64;
    let mut acked = Acked::new(cursor);
    let mut pending = VecDeque::with_capacity(IN_FLIGHT);
    let mut failure = None;
    for event in page {
        if pending.len() >= IN_FLIGHT
            && let Some((sequence, ack)) = pending.pop_front()
            && let Err(error) = acked.settle(sequence, ack).await
        {
            failure = Some(error);
            break;
        }
        let body = serde_json::to_vec(&cloud::to_json(&event)).map_err(Error::internal)?;
        let message = PublishMessage::build()
            .payload(body.into())
            .message_id(event.id.to_string())
            .header("Content-Type", CONTENT_TYPE);
        let subject = subject_of(&settings.subject_prefix, &event.short_type);
        match context.send_publish(subject, message).await {
            Ok(ack) => pending.push_back((event.sequence, ack)),
            Err(error) => {
                failure = Some(unavailable("publishing an event", &error));
                break;
            }
        }
    }
    if failure.is_none() {
        while let Some((sequence, ack)) = pending.pop_front() {
            if let Err(error) = acked.settle(sequence, ack).await {
                failure = Some(error);
                break;
            }
        }
    }
    // What is still pending after a failure is not counted: it is sent
    // again from the cursor, and the stream drops what it already has.
    drop(pending);
    if acked.through > cursor {
        store.advance_event_cursor(SINK, acked.through).await?;
    }
    match failure {
        Some(error) => Err(error),
        None => Ok((acked.through, read)),
    }
}

/// The contiguous acked prefix of a page.
struct Acked {
    /// The newest sequence acked with every one before it.
    through: i64,
}

impl Acked {
    fn new(cursor: i64) -> Self {
        Self { through: cursor }
    }

    /// Waits for the ack of `sequence`, the oldest still pending.
    async fn settle(
        &mut self,
        sequence: i64,
        ack: jetstream::context::PublishAckFuture,
    ) -> Result<()> {
        let ack = ack
            .await
            .map_err(|error| unavailable("waiting for the stream's ack", &error))?;
        if ack.duplicate {
            metrics::counter!(DUPLICATES).increment(1);
        } else {
            metrics::counter!(PUBLISHED).increment(1);
        }
        self.through = sequence;
        Ok(())
    }
}

fn unavailable(doing: &str, error: &(dyn std::error::Error + 'static)) -> Error {
    Error::Unavailable {
        message: format!("{doing}: {}", crate::error::error_chain(error)),
    }
}
