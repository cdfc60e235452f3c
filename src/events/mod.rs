//! Lifecycle events: what changed in the fleet, pushed to those who must
//! act on it, in order and never lost.
//!
//! The outbox itself is the foundation's ([`crate::store::outbox`]): every
//! audited change writes its events in its own transaction, under a
//! fleet-wide, gap-free sequence in commit order. This room reads that log
//! and delivers it:
//! - [`cloud`]: each event as a CloudEvent 1.0, in the protobuf format
//!   (WatchEvents) and the structured JSON format (webhooks, NATS);
//! - [`store`]: the reads, the retention (7 days by default) and the sinks' cursors;
//! - [`watch`]: WatchEvents, one stream per caller, resumable by sequence;
//! - [`webhooks`]: endpoints, signed deliveries, retries and dead letters,
//!   and the replica's delivery worker;
//! - [`grpc`]: EventService's and WebhookService's handlers;
//! - [`nats`]: the NATS JetStream sink (`--events-nats-url`).

pub mod cloud;
pub mod grpc;
pub mod nats;
pub mod store;
pub mod watch;
pub mod webhooks;

pub use crate::events::store::EventFilter;
pub use crate::events::watch::{EventWatch, WatchItem, WatchSpec, spawn_pruning};
pub use crate::events::webhooks::{WebhookSettings, Webhooks};
pub use crate::store::outbox::OutboxEvent;
