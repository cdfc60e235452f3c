//! WatchEvents: one follower per replica learns where the event log
//! stands; each stream reads the log after its own cursor, with its own
//! filter, whenever the log moves.
//!
//! Invariants:
//! - a stream sends events in sequence order, each once: the log is
//!   gap-free in commit order, so reading `sequence > cursor` after the
//!   log moved never misses an event committed later with a smaller
//!   sequence;
//! - a stream that resumes after `s` gets exactly the events after `s`
//!   its filter keeps; a sequence older than the log keeps is OUT_OF_RANGE
//!   naming the oldest available, one ahead of the log is OUT_OF_RANGE too;
//! - a slow client slows only its own stream: each stream reads the
//!   database at its own pace and holds at most a page of events, and the
//!   follower only publishes a number;
//! - a heartbeat names the newest sequence the stream covered, events its
//!   filter left out included, so a client resumes past them.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};

use crate::common::shutdown::stopped;
use crate::error::{Error, Result};
use crate::events::store::EventFilter;
use crate::store::Store;
use crate::store::outbox::OutboxEvent;
use crate::store::scope::Scope;

/// Events read per query.
const PAGE: u64 = 200;
/// Messages buffered per stream between its reader and its client.
const BUFFER: usize = 16;
/// How often the follower reads where the log stands without a change
/// notification: changes that announce nothing (usage alerts) and missed
/// notifications are seen within it.
const BACKSTOP: Duration = Duration::from_secs(1);
/// How often the log is pruned, at most.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// What a stream asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchSpec {
    /// Which events.
    pub filter: EventFilter,
    /// Resume after this sequence; `None` starts with the next event.
    pub after: Option<i64>,
    /// Longest silence before a heartbeat.
    pub heartbeat: Duration,
}

/// One message of a stream.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchItem {
    /// An event.
    Event(OutboxEvent),
    /// Nothing new for a heartbeat interval.
    Heartbeat {
        /// The newest sequence the stream has covered.
        covered: i64,
        /// When it was sent.
        time: DateTime<Utc>,
    },
}

/// The event streams of a replica; cheap to clone.
#[derive(Clone)]
pub struct EventWatch {
    /// Where the log lives.
    store: Store,
    /// The newest sequence the follower knows committed; each stream
    /// subscribes to it.
    latest: std::sync::Arc<watch::Sender<i64>>,
    /// Turns true when the server stops: streams end so it can.
    stopping: watch::Receiver<bool>,
}

impl EventWatch {
    /// Streams over `store`, ended once `stopping` is true.
    pub fn new(store: Store, stopping: watch::Receiver<bool>) -> Self {
        Self {
            store,
            latest: std::sync::Arc::new(watch::Sender::new(0)),
            stopping,
        }
    }

    /// Starts the follower.
    pub async fn spawn_follower(&self) -> Result<tokio::task::JoinHandle<()>> {
        let publish = std::sync::Arc::clone(&self.latest);
        let store = self.store.clone();
        let mut changes = store.changes();
        publish.send_replace(store.event_bounds().await?.current);
        Ok(tokio::spawn(async move {
            let mut backstop = tokio::time::interval(BACKSTOP);
            loop {
                tokio::select! {
                    change = changes.next() => if change.is_none() { return },
                    _ = backstop.tick() => {}
                }
                match store.event_bounds().await {
                    Ok(bounds) => {
                        publish.send_if_modified(|latest| {
                            let moved = bounds.current > *latest;
                            if moved {
                                *latest = bounds.current;
                            }
                            moved
                        });
                    }
                    Err(error) => {
                        tracing::warn!(%error, "reading where the event log stands failed; retrying");
                    }
                }
            }
        }))
    }

    /// The stream `spec` asks for, of the events `scope` may see: checked
    /// first (an expired or unknown sequence is refused here), then read
    /// until the client goes away, the server stops or reading fails (the
    /// last item is then the error).
    pub async fn watch(
        &self,
        scope: Scope,
        spec: WatchSpec,
    ) -> Result<mpsc::Receiver<Result<WatchItem>>> {
        let bounds = self.store.event_bounds().await?;
        let cursor = match spec.after {
            None => bounds.current,
            Some(after) if after < bounds.pruned_through => {
                return Err(out_of_range(
                    after,
                    format!(
                        "events through sequence {} are no longer kept; resume after {} or later",
                        bounds.pruned_through, bounds.pruned_through
                    ),
                    bounds.pruned_through + 1,
                ));
            }
            Some(after) if after > bounds.current => {
                return Err(out_of_range(
                    after,
                    format!(
                        "sequence {after} is ahead of the event log, which stands at {}",
                        bounds.current
                    ),
                    bounds.pruned_through + 1,
                ));
            }
            Some(after) => after,
        };
        let (outbox, items) = mpsc::channel(BUFFER);
        let stream = Stream {
            store: self.store.clone(),
            scope,
            filter: spec.filter,
            heartbeat: spec.heartbeat,
            cursor,
            latest: self.latest.subscribe(),
            stopping: self.stopping.clone(),
            outbox,
        };
        tokio::spawn(stream.run());
        Ok(items)
    }
}

/// OUT_OF_RANGE for `after_sequence`, naming the oldest sequence kept.
fn out_of_range(after: i64, message: String, oldest: i64) -> Error {
    Error::OutOfRange {
        reason: "SEQUENCE_OUT_OF_RANGE",
        message,
        metadata: vec![
            ("after_sequence".to_owned(), after.to_string()),
            ("oldest_available_sequence".to_owned(), oldest.to_string()),
        ],
    }
}

/// Starts pruning the log of events older than `retention`, every
/// quarter of it (at most hourly); every replica may.
pub fn spawn_pruning(store: Store, retention: chrono::Duration) -> tokio::task::JoinHandle<()> {
    let every = retention
        .to_std()
        .map_or(PRUNE_EVERY, |retention| (retention / 4).min(PRUNE_EVERY))
        .max(Duration::from_millis(100));
    tokio::spawn(async move {
        let mut prune = tokio::time::interval(every);
        loop {
            prune.tick().await;
            match store.prune_events(Utc::now() - retention).await {
                Ok(0) => {}
                Ok(pruned) => tracing::info!(pruned, "pruned events past their retention"),
                Err(error) => tracing::warn!(%error, "pruning the event log failed"),
            }
        }
    })
}

/// One stream's reader.
struct Stream {
    store: Store,
    scope: Scope,
    filter: EventFilter,
    heartbeat: Duration,
    /// The newest sequence covered.
    cursor: i64,
    latest: watch::Receiver<i64>,
    stopping: watch::Receiver<bool>,
    outbox: mpsc::Sender<Result<WatchItem>>,
}

impl Stream {
    async fn run(mut self) {
        loop {
            if let Err(error) = self.catch_up().await {
                // The client is told why its stream ends.
                let _ = self.outbox.send(Err(error)).await;
                return;
            }
            let silence = tokio::time::sleep(self.heartbeat);
            tokio::pin!(silence);
            tokio::select! {
                moved = self.latest.changed() => if moved.is_err() { return },
                () = &mut silence => {
                    let heartbeat = WatchItem::Heartbeat { covered: self.cursor, time: Utc::now() };
                    if self.outbox.send(Ok(heartbeat)).await.is_err() {
                        return;
                    }
                }
                () = self.outbox.closed() => return,
                () = stopped(&mut self.stopping) => return,
            }
        }
    }

    /// Sends every event after the cursor the filter keeps, and moves the
    /// cursor to the newest sequence known committed when reading began.
    async fn catch_up(&mut self) -> Result<()> {
        loop {
            let known = *self.latest.borrow_and_update();
            let page = self
                .store
                .events_after(self.scope.clone(), self.cursor, PAGE, &self.filter)
                .await?;
            let full = page.len() as u64 == PAGE;
            for event in page {
                self.cursor = event.sequence;
                if self.outbox.send(Ok(WatchItem::Event(event))).await.is_err() {
                    return Ok(());
                }
            }
            if !full {
                // Everything committed through `known` has been read.
                self.cursor = self.cursor.max(known);
                return Ok(());
            }
        }
    }
}
