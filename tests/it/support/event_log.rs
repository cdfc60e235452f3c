//! Reads the lifecycle events a server has kept, over its real
//! `EventService.WatchEvents` stream, as a consumer would.

use std::time::Duration;

use tenantd::cloudevents::cloud_event::Data;
use tenantd::pb;
use tenantd::pb::event_service_client::EventServiceClient;

use super::server::{ADMIN_TOKEN, Credentials, TestServer};

/// One event as a test looks at it.
#[derive(Debug, Clone)]
pub struct SeenEvent {
    /// Its place in the fleet-wide log.
    pub sequence: i64,
    /// Its short type, e.g. `tenant.created`.
    pub short_type: String,
    /// Its `data`, parsed.
    pub data: serde_json::Value,
}

/// Every kept event of `tenant` (`tenants/{id}`) whose short type is one
/// of `types` (every type when empty), in stream order: read from sequence
/// 0 until the stream's first heartbeat (a second of silence), which it
/// sends only once it has caught up.
pub async fn events_of(server: &TestServer, tenant: &str, types: &[&str]) -> Vec<SeenEvent> {
    let mut client = EventServiceClient::with_interceptor(
        server.channel.clone(),
        Credentials::bearer(ADMIN_TOKEN),
    );
    let mut stream = client
        .watch_events(pb::WatchEventsRequest {
            event_types: types.iter().map(|short| (*short).to_owned()).collect(),
            tenants: vec![tenant.to_owned()],
            after_sequence: Some(0),
            heartbeat_interval: Some(prost_types::Duration {
                seconds: 1,
                nanos: 0,
            }),
        })
        .await
        .expect("WatchEvents")
        .into_inner();
    let mut seen = Vec::new();
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), stream.message())
            .await
            .expect("the stream answers within 10 s")
            .expect("the stream stays healthy")
            .expect("the stream stays open");
        match message.kind {
            Some(pb::watch_events_response::Kind::Event(event)) => {
                let short_type = event
                    .r#type
                    .strip_prefix("dev.tenantd.")
                    .and_then(|rest| rest.strip_suffix(".v1"))
                    .expect("a tenantd event type")
                    .to_owned();
                let data = match event.data {
                    Some(Data::TextData(text)) => serde_json::from_str(&text).expect("JSON data"),
                    other => panic!("unexpected data {other:?}"),
                };
                seen.push(SeenEvent {
                    sequence: message.sequence,
                    short_type,
                    data,
                });
            }
            Some(pb::watch_events_response::Kind::Heartbeat(_)) => return seen,
            None => panic!("a message of no kind"),
        }
    }
}

/// The short types of `events`, in order.
pub fn types_of(events: &[SeenEvent]) -> Vec<&str> {
    events
        .iter()
        .map(|event| event.short_type.as_str())
        .collect()
}
