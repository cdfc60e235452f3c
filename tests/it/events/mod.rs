//! Lifecycle events as a consumer sees them: the outbox's atomicity and
//! order (`outbox`), WatchEvents' resumption, heartbeats, retention, input
//! bounds and isolation (`watch`), `tenantd events tail` (`tail`), and
//! quota thresholds announced once per period (`thresholds`).

mod outbox;
mod tail;
mod thresholds;
mod watch;

use std::time::Duration;

use serde_json::Value;
use tenantd::cloudevents::CloudEvent;
use tenantd::cloudevents::cloud_event::Data;
use tenantd::cloudevents::cloud_event::cloud_event_attribute_value::Attr;
use tenantd::pb;
use tenantd::pb::event_service_client::EventServiceClient;
use tenantd::pb::watch_events_response::Kind;
use tonic::Streaming;
use tonic::codegen::InterceptedService;
use tonic::transport::Channel;

use crate::support::server::{ADMIN_TOKEN, Credentials};

/// An EventService client sending fixed credentials.
pub type Events = EventServiceClient<InterceptedService<Channel, Credentials>>;

/// An EventService client of `channel` acting as the operator.
pub fn admin(channel: &Channel) -> Events {
    as_caller(channel, Credentials::bearer(ADMIN_TOKEN))
}

/// An EventService client of `channel` sending `credentials`.
pub fn as_caller(channel: &Channel, credentials: Credentials) -> Events {
    EventServiceClient::with_interceptor(channel.clone(), credentials)
}

/// A watch of `tenants`' events (every tenant's when empty) after `after`.
pub fn request(tenants: &[&str], after: Option<i64>) -> pb::WatchEventsRequest {
    pb::WatchEventsRequest {
        tenants: tenants.iter().map(|name| (*name).to_owned()).collect(),
        after_sequence: after,
        ..Default::default()
    }
}

/// One event as a test reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    /// The stream message's sequence.
    pub sequence: i64,
    /// The CloudEvent.
    pub event: CloudEvent,
}

impl Seen {
    /// The event's string attribute `name`.
    pub fn attribute(&self, name: &str) -> Option<String> {
        match self.event.attributes.get(name)?.attr.as_ref()? {
            Attr::CeString(text) => Some(text.clone()),
            other => Some(format!("{other:?}")),
        }
    }

    /// The event's data, parsed.
    pub fn data(&self) -> Value {
        match &self.event.data {
            Some(Data::TextData(text)) => serde_json::from_str(text).expect("JSON data"),
            other => panic!("no text data: {other:?}"),
        }
    }

    /// The event's type, short: `tenant.created`.
    pub fn short_type(&self) -> &str {
        self.event
            .r#type
            .strip_prefix("dev.tenantd.")
            .and_then(|rest| rest.strip_suffix(".v1"))
            .expect("a tenantd type")
    }
}

/// The next message of `stream`, within `within`.
pub async fn next(
    stream: &mut Streaming<pb::WatchEventsResponse>,
    within: Duration,
) -> pb::WatchEventsResponse {
    tokio::time::timeout(within, stream.message())
        .await
        .expect("a message in time")
        .expect("the stream stays up")
        .expect("the stream does not end")
}

/// The next `count` events of `stream` (heartbeats skipped), each within
/// ten seconds.
pub async fn events(stream: &mut Streaming<pb::WatchEventsResponse>, count: usize) -> Vec<Seen> {
    let mut seen = Vec::with_capacity(count);
    while seen.len() < count {
        let message = next(stream, Duration::from_secs(10)).await;
        if let Some(Kind::Event(event)) = message.kind {
            seen.push(Seen {
                sequence: message.sequence,
                event,
            });
        }
    }
    seen
}

/// Asserts no event arrives on `stream` within `within` (heartbeats may).
pub async fn no_event_within(stream: &mut Streaming<pb::WatchEventsResponse>, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.message()).await {
            Err(_) => return,
            Ok(Ok(Some(message))) => {
                assert!(
                    !matches!(message.kind, Some(Kind::Event(_))),
                    "an unexpected event: {message:?}"
                );
            }
            Ok(other) => panic!("the stream ended: {other:?}"),
        }
    }
}
