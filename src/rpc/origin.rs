//! The request id of a call, as set by the request-id layer.

/// The metadata key of the request id; set by the request-id layer when the
/// caller sends none.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
