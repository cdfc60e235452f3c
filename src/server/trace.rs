//! The trace layer: one span per call, named and described by the
//! OpenTelemetry RPC semantic conventions (`{package.Service}/{Method}`,
//! kind SERVER, `rpc.*` attributes, the gRPC status code at the end),
//! carrying its request id and (filled in later by the tenant context
//! layer) its tenant and caller; its outcome is logged with a level that
//! tells caller mistakes from failures.
//!
//! This runs on every call, so the span is made without allocating here:
//! names are slices of the request path, fields not known yet are declared
//! empty and recorded when they are.

use std::time::Duration;

use http::{HeaderMap, Request, Response};
use tonic::Code;
use tower_http::classify::{GrpcCode, GrpcErrorsAsFailures, GrpcFailureClass, SharedClassifier};
use tower_http::trace::{
    DefaultOnBodyChunk, DefaultOnEos, DefaultOnFailure, DefaultOnRequest, DefaultOnResponse,
    MakeSpan, OnEos, OnFailure, OnResponse, TraceLayer,
};
use tracing::Span;
use tracing::field::Empty;

use crate::common::otel::{self, OTHER};
use crate::rpc::origin::REQUEST_ID_HEADER;
use crate::server::route::Route;

/// The trace layer of the stack.
pub(super) type Layer = TraceLayer<
    SharedClassifier<GrpcErrorsAsFailures>,
    RequestSpan,
    DefaultOnRequest,
    RecordOutcome,
    DefaultOnBodyChunk,
    RecordOutcome,
    RecordOutcome,
>;

/// The trace layer of the stack.
pub(super) fn layer() -> Layer {
    TraceLayer::new(classifier())
        .make_span_with(RequestSpan)
        .on_response(RecordOutcome)
        .on_eos(RecordOutcome)
        .on_failure(RecordOutcome)
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
/// layer or the end of the call fills them, because a span's fields cannot
/// be added afterwards.
#[derive(Debug, Clone, Copy)]
pub(super) struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &Request<B>) -> Span {
        let request_id = request
            .headers()
            .get(REQUEST_ID_HEADER)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        let name = Route::of(request.uri().path());
        let span = tracing::info_span!(
            "grpc",
            otel.name = name.full,
            otel.kind = "server",
            otel.status_code = Empty,
            rpc.system = "grpc",
            rpc.service = name.service,
            rpc.method = name.method,
            rpc.grpc.status_code = Empty,
            "error.type" = Empty,
            request_id,
            tenant.id = Empty,
            caller.kind = Empty,
            caller.name = Empty,
            caller.refused = Empty,
        );
        otel::continue_trace(&span, request.headers());
        span
    }
}

/// Records the call's gRPC status on its span, then logs as tower-http's
/// defaults do: the status is in the headers of a trailers-only answer
/// (every refusal and error), else in the trailers at the end of the
/// stream; a call that ends without either (a broken stream) is
/// `error.type` `_OTHER`.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct RecordOutcome;

/// The `grpc-status` in `headers`, if any.
fn grpc_status(headers: &HeaderMap) -> Option<Code> {
    headers
        .get("grpc-status")
        .map(|value| Code::from_bytes(value.as_bytes()))
}

fn record_status(span: &Span, code: Code) {
    span.record("rpc.grpc.status_code", i64::from(i32::from(code)));
    otel::record_outcome(span, code);
}

impl<B> OnResponse<B> for RecordOutcome {
    fn on_response(self, response: &Response<B>, latency: Duration, span: &Span) {
        if let Some(code) = grpc_status(response.headers()) {
            record_status(span, code);
        }
        DefaultOnResponse::default().on_response(response, latency, span);
    }
}

impl OnEos for RecordOutcome {
    fn on_eos(self, trailers: Option<&HeaderMap>, stream_duration: Duration, span: &Span) {
        if let Some(code) = trailers.and_then(grpc_status) {
            record_status(span, code);
        }
        DefaultOnEos::default().on_eos(trailers, stream_duration, span);
    }
}

impl OnFailure<GrpcFailureClass> for RecordOutcome {
    fn on_failure(&mut self, failure: GrpcFailureClass, latency: Duration, span: &Span) {
        // A status code was recorded from the headers or trailers already;
        // an error (the handler's service failed, the stream broke) has none.
        if let GrpcFailureClass::Error(_) = &failure {
            span.record("error.type", OTHER);
            span.record("otel.status_code", "ERROR");
        }
        DefaultOnFailure::default().on_failure(failure, latency, span);
    }
}
