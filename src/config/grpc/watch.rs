//! WatchConfig on the wire: the request's heartbeat interval, validated,
//! and the watch's events as `WatchConfigResponse` messages.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;
use tonic::codegen::BoxStream;

use crate::config::grpc::convert::config;
use crate::config::watch::{ResyncReason, WatchEvent, WatchEventKind, WatchRequest};
use crate::error::{Error, Result};
use crate::pb;
use crate::pb::watch_config_response::Event;
use crate::rpc::convert::{duration_within, timestamp};

/// The heartbeat interval when the request sets none.
const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(30);
/// The shortest heartbeat interval accepted.
const MIN_HEARTBEAT: Duration = Duration::from_secs(5);
/// The longest heartbeat interval accepted.
const MAX_HEARTBEAT: Duration = Duration::from_secs(300);

/// The watch `request` asks for.
pub fn watch_request(request: &pb::WatchConfigRequest) -> Result<WatchRequest> {
    if request.after_revision < 0 {
        return Err(Error::invalid_field(
            "after_revision",
            "must be 0 or the revision of an event received",
        ));
    }
    let heartbeat = match &request.heartbeat_interval {
        None => DEFAULT_HEARTBEAT,
        Some(given) => duration_within(given, MIN_HEARTBEAT..=MAX_HEARTBEAT).ok_or_else(|| {
            Error::invalid_field(
                "heartbeat_interval",
                "must be between 5 seconds and 5 minutes",
            )
        })?,
    };
    Ok(WatchRequest {
        after_revision: request.after_revision,
        heartbeat,
    })
}

fn resync_reason(reason: ResyncReason) -> pb::WatchResyncReason {
    match reason {
        ResyncReason::RevisionExpired => pb::WatchResyncReason::RevisionExpired,
        ResyncReason::RevisionUnknown => pb::WatchResyncReason::RevisionUnknown,
        ResyncReason::FellBehind => pb::WatchResyncReason::FellBehind,
    }
}

/// A watch event as the wire message.
pub fn watch_response(event: WatchEvent) -> pb::WatchConfigResponse {
    let event_body = match event.kind {
        WatchEventKind::Snapshot(layers, flags) => Event::Snapshot(pb::WatchConfigSnapshot {
            config: Some(config(&layers, false)),
            flags: flags.iter().map(pb::Flag::from).collect(),
        }),
        WatchEventKind::Config(layers) => Event::ConfigChanged(config(&layers, false)),
        WatchEventKind::Flag(resolved) => Event::FlagChanged(pb::Flag::from(&resolved)),
        WatchEventKind::FlagDeleted(key) => Event::FlagDeleted(key),
        WatchEventKind::Heartbeat => Event::Heartbeat(pb::WatchConfigHeartbeat {}),
        WatchEventKind::Resync(reason, message) => Event::ResyncRequired(pb::WatchConfigResync {
            reason: resync_reason(reason).into(),
            message,
        }),
    };
    pb::WatchConfigResponse {
        revision: event.revision,
        event_time: Some(timestamp(event.event_time)),
        event: Some(event_body),
    }
}

/// A watch's events as the transport's stream of answers.
pub fn answers(events: mpsc::Receiver<Result<WatchEvent>>) -> BoxStream<pb::WatchConfigResponse> {
    Box::pin(
        ReceiverStream::new(events).map(|event| event.map(watch_response).map_err(Status::from)),
    )
}
