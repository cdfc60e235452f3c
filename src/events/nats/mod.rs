//! The NATS JetStream sink: every event of the outbox published, in
//! sequence order, to a stream the fleet's services consume.
//!
//! Invariants:
//! - an event is counted as sent (the `nats` cursor in `event_cursors`)
//!   only once the stream acked it and every event before it: the cursor
//!   advances over the contiguous acked prefix alone, so a crash or an
//!   outage loses nothing, and publishing resumes after the cursor;
//! - events are published in sequence order, each with its CloudEvents id
//!   as `Nats-Msg-Id`: what a killed replica published past the cursor is
//!   published again after the restart and dropped by the stream as a
//!   duplicate within its duplicate window, so the stream holds each event
//!   once, in order;
//! - one replica publishes at a time: each page is published under the
//!   `natssink` advisory lock ([`crate::store::lock::LockKey::EventsNats`]);
//! - a NATS outage does not touch serving: the sink runs on its own task,
//!   retries with capped exponential backoff, logs each change of its
//!   health and counts it (`tenantd_events_nats_*`), and drops nothing
//!   (the outbox keeps the events until they are acked).

mod publish;
mod settings;

pub use crate::events::nats::publish::spawn;
pub use crate::events::nats::settings::{NatsSettings, subject_of};

/// The sink's name in `event_cursors`.
pub const SINK: &str = "nats";
/// Counter: events the stream acked as new.
pub const PUBLISHED: &str = "tenantd_events_nats_published_total";
/// Counter: events the stream acked as duplicates.
pub const DUPLICATES: &str = "tenantd_events_nats_duplicates_total";
/// Counter: failures of the sink.
pub const FAILURES: &str = "tenantd_events_nats_failures_total";
/// Gauge: 1 while the sink's last attempt succeeded, 0 while it retries.
pub const HEALTHY: &str = "tenantd_events_nats_healthy";
/// Gauge: events committed but not yet acked by the stream.
pub const LAG: &str = "tenantd_events_nats_lag";
