//! Who makes a call and under which request id, read from its metadata.

use tonic::metadata::MetadataMap;

use crate::domain::audit::Origin;

/// The metadata key of the request id; set by the request-id layer when the
/// caller sends none.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The actor recorded while callers are not yet authenticated.
pub const ANONYMOUS_ACTOR: &str = "anonymous";

/// The origin of a call: its actor, and the request's own `request_id` when
/// it has one, else `x-request-id`.
pub fn origin(metadata: &MetadataMap, request_id: &str) -> Origin {
    let request_id = if request_id.is_empty() {
        metadata
            .get(REQUEST_ID_HEADER)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    } else {
        request_id.to_owned()
    };
    Origin {
        actor: ANONYMOUS_ACTOR.to_owned(),
        request_id,
    }
}
