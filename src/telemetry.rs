//! Logging and tracing: `tracing` to stdout (stderr for commands whose
//! output is data) as text or JSON, and spans to an
//! OpenTelemetry collector over OTLP/gRPC when `OTEL_EXPORTER_OTLP_ENDPOINT`
//! is set. Call [`init`] inside the tokio runtime (the OTLP exporter needs
//! it) and keep the guard until exit so buffered spans are flushed.

use opentelemetry::propagation::Extractor;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::error::{Error, Result};
use crate::settings::LogFormat;

/// Flushes and stops span export when dropped.
pub struct TelemetryGuard {
    /// The OTLP pipeline, when enabled.
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown()
        {
            eprintln!("tenantd: flushing spans failed: {error}");
        }
    }
}

/// Installs the global subscriber; logs go to stderr when `to_stderr`
/// (the command writes its results to stdout), else to stdout.
pub fn init(format: LogFormat, filter: &str, to_stderr: bool) -> Result<TelemetryGuard> {
    let filter = EnvFilter::try_new(filter).map_err(|error| {
        Error::invalid_field("log", format!("is not a valid log filter: {error}"))
    })?;
    let writer = if to_stderr {
        BoxMakeWriter::new(std::io::stderr)
    } else {
        BoxMakeWriter::new(std::io::stdout)
    };
    let fmt_layer = match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_writer(writer)
            .boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer().with_writer(writer).boxed(),
    };
    let provider = std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT")
        .filter(|endpoint| !endpoint.is_empty())
        .map(|_| otlp_provider())
        .transpose()?;
    // Calls that carry a W3C `traceparent` continue the caller's trace.
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let otel_layer = provider
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer("tenantd")));
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt_layer)
        .with(otel_layer)
        .try_init()
        .map_err(Error::internal)?;
    Ok(TelemetryGuard { provider })
}

fn otlp_provider() -> Result<SdkTracerProvider> {
    // The endpoint, headers and timeout come from the standard OTEL_* variables.
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .build()
        .map_err(Error::internal)?;
    let service_name = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| "tenantd".to_owned());
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(service_name).build())
        .build())
}

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

/// Makes `span` a child of the trace the caller sent in `headers`, if any.
pub fn continue_caller_trace(span: &tracing::Span, headers: &http::HeaderMap) {
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(headers))
    });
    // Fails only when no OpenTelemetry layer is installed; nothing to link then.
    let _ = span.set_parent(parent);
}
