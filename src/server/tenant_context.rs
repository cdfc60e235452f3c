//! The tenant context layer: authenticates every call, resolves its tenant
//! and checks both through the [`Gate`], then hands the handler a
//! [`TenantContext`] in the request extensions. Refused calls never reach a
//! handler. Health checks and reflection stay open. A credential or tenant
//! header sent more than once is refused before the gate is asked.
//!
//! It is a tower layer rather than a tonic interceptor because resolution
//! is asynchronous (cache misses read the database); extensions set on the
//! `http::Request` are visible through `tonic::Request::extensions()`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower::{Layer, Service};
use tracing::Span;

use crate::access::caller::TenantContext;
use crate::access::gate::{Call, Gate, TENANT_ID_HEADER, TENANT_SLUG_HEADER};
use crate::access::headers::one_value;
use crate::access::methods as access;
use crate::error::Error;
use crate::rpc::origin::REQUEST_ID_HEADER;
use crate::server::bulkhead::Bulkheads;
use crate::server::observe::CallTenant;
use crate::server::tls;

/// Puts a [`TenantContext`] into every admitted request.
#[derive(Clone)]
pub struct TenantContextLayer {
    /// Decides who is admitted.
    gate: Gate,
    /// Each tenant's share of this replica.
    bulkheads: Bulkheads,
}

impl TenantContextLayer {
    /// The layer, admitting what `gate` admits within each tenant's
    /// budget in `bulkheads`.
    pub fn new(gate: Gate, bulkheads: Bulkheads) -> Self {
        Self { gate, bulkheads }
    }
}

impl<S> Layer<S> for TenantContextLayer {
    type Service = TenantContextService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TenantContextService {
            inner,
            gate: self.gate.clone(),
            bulkheads: self.bulkheads.clone(),
        }
    }
}

/// The service [`TenantContextLayer`] wraps around the router.
#[derive(Clone)]
pub struct TenantContextService<S> {
    /// The router.
    inner: S,
    /// Decides who is admitted.
    gate: Gate,
    /// Each tenant's share of this replica.
    bulkheads: Bulkheads,
}

fn header<'r, B>(request: &'r Request<B>, name: &str) -> Option<&'r str> {
    request
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
}

/// The one value of the credential or tenant header `name`, `None` when it
/// is absent; sent twice or not visible ASCII, it is refused.
fn credential_header<'r, B>(request: &'r Request<B>, name: &str) -> Result<Option<&'r str>, Error> {
    let values = request.headers().get_all(name).iter();
    one_value(name, values.map(http::HeaderValue::as_bytes))
}

/// What the gate reads from `request`, refusing ambiguous metadata.
fn call_of<B>(request: &Request<B>) -> Result<Call<'_>, Error> {
    Ok(Call {
        authorization: credential_header(request, http::header::AUTHORIZATION.as_str())?,
        tenant_id: credential_header(request, TENANT_ID_HEADER)?,
        tenant_slug: credential_header(request, TENANT_SLUG_HEADER)?,
        authority: request
            .uri()
            .authority()
            .map(|authority| authority.as_str())
            .or_else(|| header(request, http::header::HOST.as_str())),
        request_id: header(request, REQUEST_ID_HEADER).unwrap_or_default(),
        peer: tls::peer::remote_addr(request.extensions()).map(|address| address.ip()),
        headers: Some(request.headers()),
        peer_service: tls::peer::peer_service(request.extensions()),
    })
}

impl<S, B> Service<Request<B>> for TenantContextService<S>
where
    S: Service<Request<B>, Response = Response<tonic::body::Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        // The service polled ready is the one that must be called; a clone
        // takes its place for the next call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        if access::is_open(request.uri().path()) {
            return Box::pin(inner.call(request));
        }
        let gate = self.gate.clone();
        let bulkheads = self.bulkheads.clone();
        // The trace layer's span is current here, not in the future.
        let span = Span::current();
        Box::pin(async move {
            let admitted = match call_of(&request) {
                Ok(call) => gate.admit(request.uri().path(), &call).await,
                Err(error) => Err(error),
            };
            // A call refused for its tenant's budget still counts as the
            // tenant's call.
            let tenant = admitted.as_ref().ok().and_then(call_tenant);
            let admitted = admitted.and_then(|context| {
                let within_budget = context
                    .budgeted_tenant()
                    .map(|tenant| bulkheads.admit(tenant))
                    .transpose()?;
                Ok((context, within_budget))
            });
            match admitted {
                Ok((context, within_budget)) => {
                    record(&span, &context);
                    request.extensions_mut().insert(context);
                    let answer = inner.call(request).await;
                    // The concurrency slot is held while the handler works.
                    drop(within_budget);
                    answer.map(|mut response| {
                        if let Some(tenant) = tenant {
                            response.extensions_mut().insert(tenant);
                        }
                        response
                    })
                }
                Err(error) => {
                    span.record("caller.refused", error.reason());
                    let mut response = error.into_status().into_http();
                    if let Some(tenant) = tenant {
                        response.extensions_mut().insert(tenant);
                    }
                    Ok(response)
                }
            }
        })
    }
}

/// The tenant the observing layer counts the call for: the resolved one,
/// else the caller's own.
fn call_tenant(context: &TenantContext) -> Option<CallTenant> {
    let tenant = context.tenant.as_ref().map(|tenant| tenant.id);
    tenant
        .or_else(|| context.caller.own_tenant())
        .map(CallTenant)
}

fn record(span: &Span, context: &TenantContext) {
    span.record("caller.kind", context.caller.kind());
    span.record("caller.name", context.caller.name());
    if let Some(tenant) = &context.tenant {
        span.record("tenant.id", tracing::field::display(tenant.id));
    } else if let Some(tenant_id) = context.caller.own_tenant() {
        span.record("tenant.id", tracing::field::display(tenant_id));
    }
}
