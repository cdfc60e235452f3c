//! Logging and tracing: `tracing` to stdout (stderr for commands whose
//! output is data) as text or JSON, and spans to an
//! OpenTelemetry collector over OTLP/gRPC when `OTEL_EXPORTER_OTLP_ENDPOINT`
//! is set. Call [`init`] inside the tokio runtime (the OTLP exporter needs
//! it) and keep the guard until exit so buffered spans are flushed.
//!
//! What the spans say (names and attributes by the OpenTelemetry semantic
//! conventions) is decided where they are made: calls in
//! `server/trace.rs`, database transactions in `store/traced.rs`, Redis
//! calls in `quota/limiter/redis.rs`, JWKS fetches in
//! `access/jwt/jwks.rs`; `docs/observability.md` lists them. The batch
//! exporter honours the standard `OTEL_BSP_*` variables.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
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
    // Calls that carry a W3C `traceparent` continue the caller's trace, and
    // tenantd's own outgoing requests carry theirs (`common::otel`).
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let otel_layer = provider.as_ref().map(|provider| {
        // Every call opens a span, so what the layer adds to each is kept
        // small: no thread name (a `String` per span, and meaningless for a
        // task that moves between threads), no busy/idle timings (a clock
        // read and a lock at every poll), no source location or target
        // (every call's span is made by the same line).
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("tenantd"))
            .with_threads(false)
            .with_tracked_inactivity(false)
            .with_location(false)
            .with_target(false)
    });
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
