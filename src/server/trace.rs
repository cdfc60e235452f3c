//! The trace layer: one span per call, carrying its method, request id and
//! (filled in later by the tenant context layer) its tenant and caller, and
//! its outcome logged with a level that tells caller mistakes from failures.

use http::Request;
use tower_http::classify::{GrpcCode, GrpcErrorsAsFailures, SharedClassifier};
use tower_http::trace::{MakeSpan, TraceLayer};
use tracing::Span;

use crate::rpc::origin::REQUEST_ID_HEADER;

/// The trace layer of the stack.
pub(super) fn layer() -> TraceLayer<SharedClassifier<GrpcErrorsAsFailures>, RequestSpan> {
    TraceLayer::new(classifier()).make_span_with(RequestSpan)
}

/// Caller mistakes are answers, not server failures: they are logged at
/// INFO by the trace layer, not as errors.
fn classifier() -> SharedClassifier<GrpcErrorsAsFailures> {
    SharedClassifier::new(
        GrpcErrorsAsFailures::new()
            .with_success(GrpcCode::InvalidArgument)
            .with_success(GrpcCode::NotFound)
            .with_success(GrpcCode::AlreadyExists)
            .with_success(GrpcCode::PermissionDenied)
            .with_success(GrpcCode::Unauthenticated)
            .with_success(GrpcCode::FailedPrecondition)
            .with_success(GrpcCode::Aborted)
            .with_success(GrpcCode::OutOfRange)
            .with_success(GrpcCode::ResourceExhausted)
            .with_success(GrpcCode::Unimplemented),
    )
}

/// Makes a call's span: its fields are declared here, empty where a later
/// layer fills them, because a span's fields cannot be added afterwards.
#[derive(Debug, Clone, Copy)]
pub(super) struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &Request<B>) -> Span {
        let request_id = request
            .headers()
            .get(REQUEST_ID_HEADER)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        let span = tracing::info_span!(
            "grpc",
            rpc.method = %request.uri().path(),
            request_id = %request_id,
            tenant.id = tracing::field::Empty,
            caller.kind = tracing::field::Empty,
            caller.refused = tracing::field::Empty,
        );
        crate::telemetry::continue_caller_trace(&span, request.headers());
        span
    }
}
