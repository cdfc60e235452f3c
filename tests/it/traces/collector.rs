//! An OpenTelemetry collector for tests: the OTLP trace service on
//! `127.0.0.1:0`, keeping every span it is sent, and the reads the tests
//! make of those spans.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
pub use opentelemetry_proto::tonic::trace::v1::Span;
pub use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// How long a test waits for a span it expects.
const ARRIVAL_DEADLINE: Duration = Duration::from_secs(20);

/// What the collector has received.
#[derive(Default)]
struct Received {
    /// Every span, in arrival order.
    spans: Mutex<Vec<Span>>,
    /// Woken on every export.
    arrived: Notify,
}

struct Service(Arc<Received>);

#[tonic::async_trait]
impl TraceService for Service {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans = request
            .into_inner()
            .resource_spans
            .into_iter()
            .flat_map(|resource| resource.scope_spans)
            .flat_map(|scope| scope.spans);
        self.0.spans.lock().unwrap().extend(spans);
        self.0.arrived.notify_waiters();
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// A running collector; stops when dropped.
pub struct Collector {
    /// Its URL, for `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub endpoint: String,
    /// What it received.
    received: Arc<Received>,
    /// The server.
    task: JoinHandle<()>,
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Collector {
    /// Starts serving.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the collector");
        let endpoint = format!("http://{}", listener.local_addr().expect("address"));
        let received = Arc::new(Received::default());
        let service = TraceServiceServer::new(Service(received.clone()));
        let task = tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
                .await
                .expect("the collector serves");
        });
        Self {
            endpoint,
            received,
            task,
        }
    }

    /// The first span received that `wanted` accepts, waiting for it to
    /// arrive; fails the test, listing what did arrive, after a deadline.
    pub async fn span(&self, what: &str, wanted: impl Fn(&Span) -> bool) -> Span {
        let waiting = async {
            loop {
                // Registered before looking, so an export in between wakes it.
                let arrived = self.received.arrived.notified();
                if let Some(span) = self
                    .received
                    .spans
                    .lock()
                    .unwrap()
                    .iter()
                    .find(|span| wanted(span))
                {
                    return span.clone();
                }
                arrived.await;
            }
        };
        match tokio::time::timeout(ARRIVAL_DEADLINE, waiting).await {
            Ok(span) => span,
            Err(_) => panic!("no span {what} arrived; received: {:#?}", self.summary()),
        }
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<Span> {
        self.received.spans.lock().unwrap().clone()
    }

    /// The received spans' names, ids and attributes, for failure messages.
    fn summary(&self) -> Vec<String> {
        self.spans()
            .iter()
            .map(|span| {
                let attributes: Vec<String> = span
                    .attributes
                    .iter()
                    .map(|attribute| format!("{}={:?}", attribute.key, attribute.value))
                    .collect();
                format!(
                    "{} trace={} span={} parent={} [{}]",
                    span.name,
                    hex(&span.trace_id),
                    hex(&span.span_id),
                    hex(&span.parent_span_id),
                    attributes.join(", ")
                )
            })
            .collect()
    }
}

/// Lowercase hexadecimal, as a `traceparent` spells ids.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The value of `span`'s attribute `key`, if it has one.
pub fn attribute<'s>(span: &'s Span, key: &str) -> Option<&'s Value> {
    span.attributes
        .iter()
        .find(|attribute| attribute.key == key)
        .and_then(|attribute| attribute.value.as_ref()?.value.as_ref())
}

/// The string attribute `key` of `span`.
pub fn text<'s>(span: &'s Span, key: &str) -> Option<&'s str> {
    match attribute(span, key) {
        Some(Value::StringValue(text)) => Some(text),
        _ => None,
    }
}

/// The integer attribute `key` of `span`.
pub fn int(span: &Span, key: &str) -> Option<i64> {
    match attribute(span, key) {
        Some(Value::IntValue(number)) => Some(*number),
        _ => None,
    }
}

/// Whether `span` is of `kind`.
pub fn is_kind(span: &Span, kind: SpanKind) -> bool {
    span.kind == kind as i32
}

/// Whether `span`'s status is ERROR.
pub fn is_error(span: &Span) -> bool {
    span.status
        .as_ref()
        .is_some_and(|status| status.code == StatusCode::Error as i32)
}

/// Whether `child` is a child of `parent` in the same trace.
pub fn is_child_of(child: &Span, parent: &Span) -> bool {
    child.trace_id == parent.trace_id && child.parent_span_id == parent.span_id
}
