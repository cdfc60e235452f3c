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
