//! The observing layer: times every call from its arrival to the end of
//! its answer, reads the status the caller got (from the headers of a
//! trailers-only answer, else from the trailers) and the tenant the gate
//! resolved, and tells each [`CallSink`] once.
//!
//! It sits outside the panic layer, so a panicking handler is counted as
//! the INTERNAL its caller sees, and outside the tenant context layer,
//! which leaves the resolved tenant in the response's extensions
//! ([`CallTenant`]). A caller that goes away before the answer ends is
//! counted as CANCELLED. Method labels come from a fixed table of the
//! routes tenantd serves, so no caller can make up new label values.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::{HeaderMap, Request, Response};
use http_body::{Body, Frame, SizeHint};
use tower::{Layer, Service};

use crate::common::calls::{CallOutcome, CallSink};
use crate::common::ids::TenantId;
use crate::server::route::Route;

/// The tenant a call was for, put in the response's extensions by the
/// tenant context layer.
#[derive(Debug, Clone, Copy)]
pub struct CallTenant(pub TenantId);

/// Tells `sinks` about every call.
#[derive(Clone)]
pub struct ObserveLayer {
    /// Everyone who keeps call statistics.
    sinks: Arc<[Arc<dyn CallSink>]>,
    /// Whether the server call duration histogram is recorded.
    rpc_metrics: bool,
}

impl ObserveLayer {
    /// The layer, telling each of `sinks` about every call, and recording
    /// each in the call duration histogram when `rpc_metrics`.
    pub fn new(sinks: Vec<Arc<dyn CallSink>>, rpc_metrics: bool) -> Self {
        Self {
            sinks: sinks.into(),
            rpc_metrics,
        }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Observe {
            inner,
            sinks: self.sinks.clone(),
            rpc_metrics: self.rpc_metrics,
        }
    }
}

/// The service [`ObserveLayer`] wraps.
#[derive(Clone)]
pub struct Observe<S> {
    /// The rest of the stack.
    inner: S,
    /// Everyone who keeps call statistics.
    sinks: Arc<[Arc<dyn CallSink>]>,
    /// Whether the server call duration histogram is recorded.
    rpc_metrics: bool,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Observe<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: Body,
{
    type Response = Response<ObservedBody<ResBody>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let started = Instant::now();
        let route = Route::of(request.uri().path());
        let sinks = self.sinks.clone();
        let rpc_metrics = self.rpc_metrics;
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = answer.await?;
            let tenant = response
                .extensions()
                .get::<CallTenant>()
                .map(|tenant| tenant.0);
            let mut pending = Pending {
                sinks,
                route,
                tenant,
                started,
                rpc_metrics,
                done: false,
            };
            // A trailers-only answer (every error, and any answer without
            // a message) carries its status in the headers.
            if let Some(code) = status_in(response.headers()) {
                pending.finish(code);
            }
            Ok(response.map(|body| ObservedBody { body, pending }))
        })
    }
}

/// A call whose status is not told yet.
struct Pending {
    /// Whom to tell.
    sinks: Arc<[Arc<dyn CallSink>]>,
    /// The call's service and method.
    route: Route,
    /// The tenant it was for.
    tenant: Option<TenantId>,
    /// When it arrived.
    started: Instant,
    /// Whether the call duration histogram is recorded.
    rpc_metrics: bool,
    /// Whether it was told already.
    done: bool,
}

impl Pending {
    fn finish(&mut self, code: tonic::Code) {
        if self.done {
            return;
        }
        self.done = true;
        let latency = self.started.elapsed();
        if self.rpc_metrics {
            crate::server::metrics::record_call(self.route, code, latency);
        }
        let call = CallOutcome {
            service: self.route.service,
            method: self.route.method,
            code,
            tenant: self.tenant,
            latency,
        };
        for sink in self.sinks.iter() {
            sink.record(&call);
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        // The answer's body went away before its end: the caller left.
        self.finish(tonic::Code::Cancelled);
    }
}

/// The status in `headers`, if they carry one.
fn status_in(headers: &HeaderMap) -> Option<tonic::Code> {
    let value = headers.get("grpc-status")?;
    Some(tonic::Code::from_bytes(value.as_bytes()))
}

pin_project_lite::pin_project! {
    /// An answer's body that tells the call's status when its trailers
    /// pass, or when it ends or is dropped without them.
    pub struct ObservedBody<B> {
        #[pin]
        body: B,
        pending: Pending,
    }
}

impl<B: Body> Body for ObservedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let polled = this.body.poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(code) = frame.trailers_ref().and_then(status_in) {
                    this.pending.finish(code);
                }
            }
            // A body that fails mid-answer never sends its status.
            Poll::Ready(Some(Err(_))) => this.pending.finish(tonic::Code::Unknown),
            // Ended without a status: gRPC reads that as UNKNOWN.
            Poll::Ready(None) => this.pending.finish(tonic::Code::Unknown),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
