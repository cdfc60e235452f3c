//! The server: `run(config, listener, shutdown)` assembles every tower layer
//! and service in one place and serves until `shutdown` completes.
//!
//! Tests bind `127.0.0.1:0` and call [`run`] with a channel as the shutdown
//! future, so they exercise exactly what production runs.

pub mod bulkhead;
mod health;
pub mod jobs;
pub mod tenant_context;
pub mod tenants;
mod upkeep;

use std::future::Future;
use std::sync::Arc;

use http::Request;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::classify::{GrpcCode, GrpcErrorsAsFailures, SharedClassifier};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tracing::Span;

use crate::access::gate::Gate;
use crate::config::configs::Configs;
use crate::config::grpc::service::ConfigApi;
use crate::config::schema::ConfigSchema;
use crate::config::watch::ConfigWatch;
use crate::envoy::service::ratelimit::v3::rate_limit_service_server::RateLimitServiceServer;
use crate::error::{Error, Result};
use crate::flags::directory::Flags;
use crate::pb;
use crate::pb::config_service_server::ConfigServiceServer;
use crate::pb::quota_service_server::QuotaServiceServer;
use crate::pb::tenant_service_server::TenantServiceServer;
use crate::pb::usage_service_server::UsageServiceServer;
use crate::quota::grpc::ratelimit::RateLimitApi;
use crate::quota::grpc::service::QuotaApi;
use crate::quota::plans::Plans;
use crate::quota::quotas::Quotas;
use crate::quota::ratelimit::RateLimits;
use crate::rpc::origin::REQUEST_ID_HEADER;
use crate::server::bulkhead::Bulkheads;
use crate::server::tenant_context::TenantContextLayer;
use crate::server::tenants::{PROVISIONING_CONCURRENCY, with_provisioning};
use crate::settings::{Config, redact_url};
use crate::store::{PoolOptions, Store};
use crate::tenancy::dns::DnsTxtResolver;
use crate::tenancy::grpc::service::TenantApi;
use crate::tenancy::tenants::{TenantSettings, Tenants};
use crate::usage::alerts::{Alerts, UsageChanges};
use crate::usage::event::UsageSettings;
use crate::usage::export::Exports;
use crate::usage::grpc::service::UsageApi;
use crate::usage::ingest::Usage;
use crate::usage::metrics::Metrics;
use crate::usage::rollups::{RetentionSettings, Rollups};

/// How raw usage events are kept under `config`.
/// The configuration schema: the operator's file, else the shipped one.
fn config_schema(file: Option<&std::path::Path>) -> Result<ConfigSchema> {
    let Some(path) = file else {
        return ConfigSchema::shipped();
    };
    let text = std::fs::read_to_string(path).map_err(|error| {
        Error::InvalidArgument(vec![crate::error::FieldViolation::new(
            "--config-schema-file",
            format!("cannot be read from {}: {error}", path.display()),
        )])
    })?;
    ConfigSchema::parse(&text, "--config-schema-file")
}

fn retention_settings(config: &Config) -> RetentionSettings {
    RetentionSettings {
        usage: UsageSettings::default(),
        retention: config.usage_event_retention,
    }
}

/// Applies pending control-plane migrations to `database_url`.
pub async fn migrate(database_url: &str) -> Result<()> {
    let store = Store::connect(database_url, &PoolOptions::default()).await?;
    store.migrate().await?;
    tracing::info!(database = %redact_url(database_url), "migrations applied");
    store.close().await
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
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

/// The answer to a call whose handler panicked: INTERNAL, like any other
/// internal error, with the panic logged once.
fn answer_panic(
    panic: Box<dyn std::any::Any + Send + 'static>,
) -> http::Response<tonic::body::Body> {
    let message = panic
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(panic = %message, "a handler panicked");
    tonic::Status::internal("internal error").into_http()
}

/// Reflection over everything served, both reflection versions included,
/// so v1 and v1alpha clients see the same list of services.
fn reflection() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .include_reflection_service(false)
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET)
}

fn request_span<B>(request: &Request<B>) -> Span {
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

/// Serves the gRPC API on `listener` until `shutdown` completes, then lets
/// in-flight calls finish for at most the configured grace period.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    serve(config, listener, shutdown, Admission::Gate).await
}

/// Serves like [`run`] but with no tenant context layer at all: nothing is
/// authenticated, and handlers that need a context answer INTERNAL. For
/// measuring what the layer costs (`benches/`), never for serving.
#[doc(hidden)]
pub async fn run_without_tenant_context_for_benchmarks(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    serve(config, listener, shutdown, Admission::Bypassed).await
}

/// Whether calls pass the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admission {
    Gate,
    Bypassed,
}

/// Every service the server answers with, built once at start.
struct Services {
    tenants: Tenants,
    gate: Gate,
    plans: Plans,
    configs: Configs,
    flags: Flags,
    quotas: Quotas,
    metrics: Metrics,
    usage: Usage,
    exports: Exports,
}

/// The control-plane database, migrated (when `config` says so) and with
/// the fleet's page token key.
async fn open_store(config: &Config) -> Result<Store> {
    if config.migrate_on_start {
        migrate(&config.migration_database_url).await?;
    }
    let store = Store::connect(&config.database_url, &config.pool).await?;
    store.ensure_migrated().await?;
    store
        .with_page_token_key(config.page_token_key.as_ref())
        .await
}

/// The tenant directory, provisioning SCHEMA tenants on PostgreSQL.
async fn directory(config: &Config, store: &Store) -> Result<Tenants> {
    let resolver = Arc::new(DnsTxtResolver::new(config.dns_resolver)?);
    let settings = TenantSettings {
        purge_after: config.purge_after,
        base_domain: config.base_domain.clone(),
        domain_claim_ttl: config.domain_claim_ttl,
    };
    with_provisioning(
        Tenants::new(store.clone(), settings, resolver),
        store,
        &config.migration_database_url,
        (
            config.tenant_template_dir.as_deref(),
            PROVISIONING_CONCURRENCY,
            config.provisioning_fault,
        ),
    )
    .await
}

/// Builds every service on `store`, starts their background jobs (added to
/// `tasks`, aborted at shutdown) and hooks their caches to the change feed.
async fn services(
    config: &Config,
    store: &Store,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
) -> Result<Services> {
    let tenants = directory(config, store).await?;
    tasks.push(crate::server::jobs::provisioning::spawn(
        tenants.clone(),
        config.tenant_jobs_interval,
    ));
    let limiter = crate::quota::limiter::connect(
        config.redis_url.as_deref(),
        config.redis_cluster,
        config.redis_failure,
        config.limiter_fault,
    )
    .await?;
    let plans = Plans::new(store.clone());
    let configs = Configs::new(
        store.clone(),
        tenants.clone(),
        config_schema(config.config_schema_file.as_deref())?,
        config.cache_ttl,
    );
    let gate = Gate::new(
        tenants.clone(),
        &config.admin_tokens,
        &config.service_tokens,
        config.cache_ttl,
    );
    let metrics = Metrics::new(store.clone());
    let usage_changes = UsageChanges::default();
    let usage = Usage::new(
        store.clone(),
        metrics.clone(),
        gate.clone(),
        UsageSettings::default(),
    );
    let exports = Exports::new(store.clone(), UsageSettings::default());
    let quotas = Quotas::new(
        tenants.clone(),
        plans.clone(),
        store.clone(),
        limiter,
        (usage.clone(), config.cache_ttl),
    );
    tasks.push(tokio::spawn(
        Alerts::new(quotas.clone(), store.clone()).watch(usage_changes.clone()),
    ));
    let rollups = Rollups::new(store.clone(), retention_settings(config), usage_changes);
    tasks.push(crate::server::jobs::usage_aggregation::spawn(
        rollups,
        config.usage_aggregation_interval,
    ));
    store.listen_for_changes().await?;
    let flags = Flags::new(store.clone(), tenants.clone(), config.cache_ttl);
    // Synchronous, so a write's own replica serves its caller's next call
    // without what the write made wrong.
    store.on_change({
        let (gate, quotas, configs, flags) =
            (gate.clone(), quotas.clone(), configs.clone(), flags.clone());
        move |change| {
            gate.invalidate(change);
            quotas.invalidate(change);
            configs.invalidate(change);
            flags.invalidate(change);
        }
    });
    Ok(Services {
        tenants,
        gate,
        plans,
        configs,
        flags,
        quotas,
        metrics,
        usage,
        exports,
    })
}

async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    admission: Admission,
) -> Result<()> {
    let store = open_store(&config).await?;
    let mut tasks = Vec::new();
    let Services {
        tenants,
        gate,
        plans,
        configs,
        flags,
        quotas,
        metrics,
        usage,
        exports,
    } = services(&config, &store, &mut tasks).await?;
    tasks.push(upkeep::spawn_key_use_flush(
        &gate,
        config.key_use_flush_interval,
    ));
    if config.admin_tokens.is_empty() {
        tracing::warn!("no admin token is configured (--admin-tokens): nobody can manage tenants");
    }

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    let health = health::Health::serving(health_reporter).await;
    tasks.push(health.spawn_probe(store.clone(), config.health_probe_interval));
    let reflection_v1 = reflection().build_v1().map_err(Error::internal)?;
    let reflection_v1alpha = reflection().build_v1alpha().map_err(Error::internal)?;

    let layers =
        ServiceBuilder::new()
            // First, so every later layer and the handler see a request id.
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            // Spans carry the request id and the outcome of every call.
            .layer(TraceLayer::new(classifier()).make_span_with(request_span))
            // Echoes the request id in the response so callers can quote it.
            .layer(PropagateRequestIdLayer::x_request_id())
            // A panicking handler (or gate) answers INTERNAL, logged in its
            // span, instead of breaking the caller's stream.
            .layer(CatchPanicLayer::custom(answer_panic))
            // Health and reflection decode with prost's codec: their
            // undecodable requests become INVALID_ARGUMENT as well.
            .map_response(crate::rpc::codec::refuse_undecodable)
            // Innermost, inside the span: nothing reaches a handler without a
            // tenant context, and refusals are traced like any answer.
            .option_layer((admission == Admission::Gate).then(|| {
                TenantContextLayer::new(gate.clone(), Bulkheads::new(config.tenant_budget))
            }));

    let address = listener.local_addr().map_err(Error::internal)?;
    tracing::info!(%address, database = %redact_url(&config.database_url), "tenantd serving");

    let (stop_sender, stop_receiver) = watch::channel(false);
    let config_watch = ConfigWatch::new(
        store.clone(),
        (configs.clone(), flags.clone()),
        tenants.clone(),
        stop_receiver.clone(),
    );
    tasks.push(config_watch.spawn_follower().await?);
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: refusing new calls, finishing in-flight ones");
        // Load balancers stop routing here before connections close.
        health.stop().await;
        let _ = stop_sender.send(true);
    });
    let mut serve_stop = stop_receiver.clone();
    // Without TCP_NODELAY, small answers wait on Nagle's algorithm for the
    // client's delayed ACK: tens of milliseconds on a hot path.
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let serve = Server::builder()
        .layer(layers)
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(TenantServiceServer::new(TenantApi::new(
            tenants,
            gate.clone(),
        )))
        .add_service(ConfigServiceServer::new(ConfigApi::new(
            configs,
            flags,
            config_watch,
            gate.clone(),
        )))
        .add_service(QuotaServiceServer::new(QuotaApi::new(
            plans,
            quotas.clone(),
            gate.clone(),
        )))
        .add_service(RateLimitServiceServer::new(RateLimitApi::new(
            RateLimits::new(quotas.clone(), gate.clone()),
        )))
        .add_service(UsageServiceServer::new(UsageApi::new(
            metrics,
            (usage, exports),
            quotas,
            gate.clone(),
        )))
        .serve_with_incoming_shutdown(incoming, async move {
            let _ = serve_stop.wait_for(|stopping| *stopping).await;
        });
    let mut grace_stop = stop_receiver;
    let grace = config.shutdown_grace;
    let grace_expired = async move {
        let _ = grace_stop.wait_for(|stopping| *stopping).await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        served = serve => served.map_err(Error::internal)?,
        () = grace_expired => tracing::warn!(grace_seconds = grace.as_secs(), "calls still in flight after the grace period were cut off"),
    }
    for task in tasks {
        task.abort();
    }
    gate.flush_key_uses().await;
    store.close().await?;
    tracing::info!("tenantd stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use tower::{ServiceBuilder, ServiceExt};

    use super::*;

    #[tokio::test]
    async fn a_panicking_handler_answers_internal() {
        let service = ServiceBuilder::new()
            .layer(CatchPanicLayer::custom(answer_panic))
            .service_fn(|_request: Request<tonic::body::Body>| async move {
                if std::hint::black_box(true) {
                    panic!("handler bug");
                }
                Ok::<_, Infallible>(http::Response::new(tonic::body::Body::default()))
            });
        let response = service
            .oneshot(Request::new(tonic::body::Body::default()))
            .await
            .expect("an answer");
        assert_eq!(
            response.status(),
            http::StatusCode::OK,
            "gRPC errors travel in a 200"
        );
        let status = tonic::Status::from_header_map(response.headers()).expect("a grpc-status");
        assert_eq!(status.code(), tonic::Code::Internal);
        assert_eq!(status.message(), "internal error");
    }
}
