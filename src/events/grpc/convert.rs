//! WatchEvents' request, checked field by field, and its stream's
//! messages.

use std::time::Duration;

use crate::common::ids::TenantId;
use crate::error::{Error, FieldViolation, Result, Violations};
use crate::events::cloud;
use crate::events::store::EventFilter;
use crate::events::watch::{WatchItem, WatchSpec};
use crate::pb;
use crate::pb::watch_events_response::Kind;
use crate::rpc::convert::{duration_within, timestamp};
use crate::store::outbox::{parse_type, short_types};

/// Most event types one stream may name.
pub const MAX_TYPES: usize = 50;
/// Most tenants one stream may name.
pub const MAX_TENANTS: usize = 100;
/// The heartbeat interval when the request sets none.
const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(30);
/// The shortest heartbeat interval accepted.
const MIN_HEARTBEAT: Duration = Duration::from_secs(1);
/// The longest heartbeat interval accepted.
const MAX_HEARTBEAT: Duration = Duration::from_secs(300);

/// The stream `request` asks for.
pub fn watch_spec(request: &pb::WatchEventsRequest) -> Result<WatchSpec> {
    let mut violations: Vec<FieldViolation> = Vec::new();
    if request.event_types.len() > MAX_TYPES {
        violations.refuse("event_types", format!("names more than {MAX_TYPES} types"));
    }
    if request.tenants.len() > MAX_TENANTS {
        violations.refuse("tenants", format!("names more than {MAX_TENANTS} tenants"));
    }
    let mut types = Vec::new();
    for (index, given) in request.event_types.iter().take(MAX_TYPES).enumerate() {
        match parse_type(given) {
            Some(known) => types.push(known.to_owned()),
            None => violations.refuse(
                format!("event_types[{index}]"),
                format!(
                    "is not an event type; types: {} (short, or dev.tenantd.{{type}}.v1)",
                    short_types().join(", ")
                ),
            ),
        }
    }
    let mut tenants = Vec::new();
    for (index, name) in request.tenants.iter().take(MAX_TENANTS).enumerate() {
        let field = format!("tenants[{index}]");
        let parsed = name
            .strip_prefix("tenants/")
            .and_then(|id| TenantId::parse(id, &field).ok());
        match parsed {
            Some(id) => tenants.push(id),
            None => violations.refuse(field, "must be tenants/{id}, with the id a lowercase UUID"),
        }
    }
    if request.after_sequence.is_some_and(|after| after < 0) {
        violations.refuse(
            "after_sequence",
            "must be 0 or the sequence of an event received",
        );
    }
    let heartbeat = heartbeat(request.heartbeat_interval.as_ref()).unwrap_or_else(|message| {
        violations.refuse("heartbeat_interval", message);
        DEFAULT_HEARTBEAT
    });
    if !violations.is_empty() {
        return Err(Error::InvalidArgument(violations));
    }
    types.sort();
    types.dedup();
    tenants.sort();
    tenants.dedup();
    Ok(WatchSpec {
        filter: EventFilter { types, tenants },
        after: request.after_sequence,
        heartbeat,
    })
}

fn heartbeat(given: Option<&prost_types::Duration>) -> std::result::Result<Duration, &'static str> {
    let Some(given) = given else {
        return Ok(DEFAULT_HEARTBEAT);
    };
    duration_within(given, MIN_HEARTBEAT..=MAX_HEARTBEAT)
        .ok_or("must be between 1 second and 5 minutes")
}

/// A stream's message on the wire.
pub fn watch_response(item: WatchItem) -> pb::WatchEventsResponse {
    match item {
        WatchItem::Event(event) => pb::WatchEventsResponse {
            sequence: event.sequence,
            kind: Some(Kind::Event(cloud::to_proto(&event))),
        },
        WatchItem::Heartbeat { covered, time } => pb::WatchEventsResponse {
            sequence: covered,
            kind: Some(Kind::Heartbeat(pb::EventsHeartbeat {
                time: Some(timestamp(time)),
            })),
        },
    }
}
