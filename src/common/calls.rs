//! What one answered call was, as the observing layer tells it to
//! whoever keeps call statistics (Prometheus families, per-tenant service
//! levels): the seam between the stack, which sees every call, and the
//! rooms that count them, so neither imports the other.

use std::time::Duration;

use crate::common::ids::TenantId;

/// One call, after its status is known.
#[derive(Debug, Clone, Copy)]
pub struct CallOutcome<'a> {
    /// The gRPC service, e.g. `tenantd.v1.TenantService`.
    pub service: &'a str,
    /// The method, e.g. `GetTenant`.
    pub method: &'a str,
    /// The status the caller got.
    pub code: tonic::Code,
    /// The tenant the call was for, when the gate resolved one.
    pub tenant: Option<TenantId>,
    /// From the request's arrival to the end of its answer.
    pub latency: Duration,
}

impl CallOutcome<'_> {
    /// Whether the call failed on the server's side: what an availability
    /// objective counts against. Caller mistakes and refusals
    /// (INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED, RESOURCE_EXHAUSTED
    /// …) are answers, not failures.
    pub fn failed(&self) -> bool {
        is_server_failure(self.code)
    }
}

/// The codes that mean the server failed the caller, as the OpenTelemetry
/// RPC conventions list them for servers.
pub fn is_server_failure(code: tonic::Code) -> bool {
    matches!(
        code,
        tonic::Code::Unknown
            | tonic::Code::DeadlineExceeded
            | tonic::Code::Unimplemented
            | tonic::Code::Internal
            | tonic::Code::Unavailable
            | tonic::Code::DataLoss
    )
}

/// Keeps statistics of answered calls. `record` runs on every call's
/// path: it must be cheap and must never wait on I/O.
pub trait CallSink: Send + Sync {
    /// Counts `call`.
    fn record(&self, call: &CallOutcome<'_>);
}

/// The upper bounds, in seconds, of every latency histogram tenantd keeps
/// (Prometheus' `le` values; a latency objective's threshold is one of
/// them). [`crate::common::latency`] has them in microseconds.
pub const LATENCY_BOUNDS_SECONDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The name of `code` as gRPC spells it, e.g. `NOT_FOUND`.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}
