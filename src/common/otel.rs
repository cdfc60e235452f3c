//! What every room's spans share with OpenTelemetry: the W3C trace context
//! a call arrives with and the one an outgoing request carries (through the
//! global propagator `telemetry::init` installs), and how a gRPC code marks
//! a span as failed under the semantic conventions.
//!
//! Both directions are no-ops while no OpenTelemetry layer is installed
//! (tests, benchmarks, a server without `OTEL_EXPORTER_OTLP_ENDPOINT`):
//! nothing is read, nothing is added to a request.

use opentelemetry::propagation::{Extractor, Injector};
use tonic::Code;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::common::calls::{code_name as grpc_code_name, is_server_failure};

/// The value of `error.type`, `rpc.method` and span names that have no
/// better one (an unknown method, an error without a status code), as the
/// semantic conventions spell it.
pub const OTHER: &str = "_OTHER";

/// Reads W3C trace-context headers from an HTTP request.
struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// Writes W3C trace-context headers into an outgoing HTTP request.
struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        // The propagator writes only `traceparent` and `tracestate`, in
        // valid header syntax; anything else is dropped, not sent broken.
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// Makes `span` a child of the trace the caller sent in `headers`, if any.
pub fn continue_trace(span: &Span, headers: &http::HeaderMap) {
    if span.is_disabled() {
        return;
    }
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(headers))
    });
    // Fails only when no OpenTelemetry layer is installed; nothing to link then.
    let _ = span.set_parent(parent);
}

/// Adds `span`'s trace context to `headers`, so the server an outgoing
/// request goes to continues tenantd's trace with `span` as the parent.
pub fn propagate_trace(span: &Span, headers: &mut http::HeaderMap) {
    if span.is_disabled() {
        return;
    }
    let context = span.context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderInjector(headers));
    });
}

/// Records on `span` that its work ended with `code`: `error.type` names
/// any code but OK, and the span's status is ERROR for a server failure
/// only. The span must declare both fields, empty.
pub fn record_outcome(span: &Span, code: Code) {
    if code == Code::Ok {
        return;
    }
    span.record("error.type", grpc_code_name(code));
    if is_server_failure(code) {
        span.record("otel.status_code", "ERROR");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_grpc_name() {
        for number in 0..=16 {
            let code = Code::from_i32(number);
            let name = grpc_code_name(code);
            assert!(
                name.bytes()
                    .all(|byte| byte.is_ascii_uppercase() || byte == b'_'),
                "{name}"
            );
            // tonic's Debug spelling is the CamelCase of the same words.
            assert_eq!(
                name.replace('_', ""),
                format!("{code:?}").to_uppercase(),
                "{number}"
            );
        }
    }

    #[test]
    fn only_server_failures_are_errors() {
        let failures: Vec<&str> = (0..=16)
            .map(Code::from_i32)
            .filter(|code| is_server_failure(*code))
            .map(grpc_code_name)
            .collect();
        assert_eq!(
            failures,
            [
                "UNKNOWN",
                "DEADLINE_EXCEEDED",
                "UNIMPLEMENTED",
                "INTERNAL",
                "UNAVAILABLE",
                "DATA_LOSS"
            ]
        );
    }
}
