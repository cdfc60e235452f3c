//! The server: `run(config, listener, shutdown)` assembles every tower layer
//! and service in one place and serves until `shutdown` completes.
//!
//! Tests bind `127.0.0.1:0` and call [`run`] with a channel as the shutdown
//! future, so they exercise exactly what production runs.
//!
//! What is built where: the services and their jobs in `services`, what is
//! answered (the gRPC services, health, reflection) in `routes`, the tower
//! stack in `stack` (its order, and why), one of our own layers per file
//! (`trace`, `observe` with its `metrics` port, `catch_panic`,
//! [`tenant_context`] with [`bulkhead`]), TLS and
//! the client certificates' services in [`tls`], the background jobs in
//! [`jobs`] and `upkeep`.

pub mod bulkhead;
mod catch_panic;
mod health;
pub mod jobs;
mod metrics;
mod observe;
mod route;
mod routes;
mod services;
mod signal;
mod stack;
pub mod tenant_context;
pub mod tenants;
pub mod tls;
mod trace;
mod upkeep;

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::access::ext_authz::ExtAuthzApi;
use crate::common::calls::CallSink;
use crate::config::watch::ConfigWatch;
use crate::error::{Error, Result};
use crate::events::EventWatch;
use crate::server::bulkhead::Bulkheads;
use crate::server::metrics::TenantMetrics;
use crate::server::observe::ObserveLayer;
use crate::server::services::Services;
pub use crate::server::signal::shutdown_signal;
use crate::server::tenant_context::TenantContextLayer;
use crate::server::tls::Tls;
use crate::settings::{Config, redact_url};
use crate::slo::Flusher;
use crate::store::{PoolOptions, Store};

/// Applies pending control-plane migrations to `database_url`.
pub async fn migrate(database_url: &str) -> Result<()> {
    let store = Store::connect(database_url, &PoolOptions::default()).await?;
    store.migrate().await?;
    tracing::info!(database = %redact_url(database_url), "migrations applied");
    store.close().await
}

/// Serves the gRPC API on `listener` until `shutdown` completes, then lets
/// in-flight calls finish for at most the configured grace period.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    run_admitting(config, listener, shutdown, Admission::Gate).await
}

/// Whether calls pass the gate.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Through the tenant context layer: how tenantd always serves.
    Gate,
    /// With no tenant context layer at all: nothing is authenticated, and
    /// handlers that need a context answer INTERNAL. For measuring what the
    /// layer costs (`benches/`), never for serving.
    Bypassed,
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

/// Serves like [`run`], admitting calls as `admission` says; only the
/// benchmarks bypass the gate, to measure what it costs.
#[doc(hidden)]
pub async fn run_admitting(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    admission: Admission,
) -> Result<()> {
    let mut tasks = Vec::new();
    // Before anything else, so a bad certificate stops the start at once.
    let tls = config.tls.as_ref();
    let tls = tls.map(|tls| Tls::load(tls, &mut tasks)).transpose()?;
    // Before the services, whose caches and limiter register their
    // series with it.
    let recorder = config
        .metrics
        .addr
        .map(|_| metrics::recorder())
        .transpose()?;
    let store = open_store(&config).await?;
    let services = Services::start(&config, &store, &mut tasks).await?;
    let gate = services.gate.clone();
    tasks.push(upkeep::spawn_key_use_flush(
        &gate,
        config.key_use_flush_interval,
    ));
    let call_log = services.call_log.clone();
    tasks.push(upkeep::spawn_call_count_flush(
        Flusher::new(call_log.clone(), store.clone()),
        config.tenant_health_flush_interval,
    ));
    if config.admin_tokens.is_empty() {
        tracing::warn!("no admin token is configured (--admin-tokens): nobody can manage tenants");
    }
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    let health = health::Health::serving(health_reporter).await;
    tasks.push(health.spawn_probe(store.clone(), config.health_probe_interval));

    let address = listener.local_addr().map_err(Error::internal)?;
    tracing::info!(%address, database = %redact_url(&config.database_url), "tenantd serving");

    let (stop_sender, stop_receiver) = watch::channel(false);
    let config_watch = ConfigWatch::new(
        store.clone(),
        (services.configs.clone(), services.flags.clone()),
        services.tenants.clone(),
        stop_receiver.clone(),
    );
    tasks.push(config_watch.spawn_follower().await?);
    let event_watch = EventWatch::new(store.clone(), stop_receiver.clone());
    tasks.push(event_watch.spawn_follower().await?);
    tasks.push(crate::events::spawn_pruning(
        store.clone(),
        config.events.retention,
    ));
    if let Some(nats) = &config.events_nats {
        tracing::info!(stream = %nats.stream, "publishing lifecycle events to NATS JetStream");
        tasks.push(crate::events::nats::spawn(
            store.clone(),
            nats.clone(),
            stop_receiver.clone(),
        ));
    }
    let observe = observe_layer(
        &config,
        (recorder, &stop_receiver),
        Arc::new(call_log.clone()),
        &mut tasks,
    )
    .await?;
    if let Some(address) = config.health_listen_addr {
        let stop = stop_receiver.clone();
        tasks.push(stack::spawn_health(address, health_service.clone(), stop).await?);
    }
    tokio::spawn(drain(shutdown, health, config.drain_delay, stop_sender));
    // One set of budgets for the layer and ext_authz: a tenant's calls and
    // its gateway requests spend the same share.
    let bulkheads = Bulkheads::new(config.tenant_budget);
    let tenant_context = (admission == Admission::Gate)
        .then(|| TenantContextLayer::new(gate.clone(), bulkheads.clone()));
    let ext_authz = ExtAuthzApi::new(gate.clone(), Arc::new(bulkheads), config.ext_authz.clone());
    let routes = routes::routes(
        services,
        (config_watch, event_watch),
        health_service,
        ext_authz,
    )?;
    stack::serve(
        (listener, tls),
        routes,
        (observe, tenant_context),
        stop_receiver,
        (config.shutdown_grace, &config.connections),
    )
    .await?;
    for task in tasks {
        task.abort();
    }
    gate.flush_key_uses().await;
    // The minute in progress too, so no answered call goes uncounted.
    Flusher::new(call_log, store.clone()).flush().await;
    store.close().await?;
    tracing::info!("tenantd stopped");
    Ok(())
}

/// The observing layer, telling `call_log` of every call, with the
/// metrics port and its tasks when `config` asks for metrics.
async fn observe_layer(
    config: &Config,
    (recorder, stop): (
        Option<metrics_exporter_prometheus::PrometheusHandle>,
        &watch::Receiver<bool>,
    ),
    call_log: Arc<dyn CallSink>,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
) -> Result<ObserveLayer> {
    // Per-tenant service levels count every call, metrics or not.
    let mut sinks: Vec<Arc<dyn CallSink>> = vec![call_log];
    let (Some(address), Some(recorder)) = (config.metrics.addr, recorder) else {
        return Ok(ObserveLayer::new(sinks, false));
    };
    let tenants = Arc::new(TenantMetrics::new(config.metrics.tenant_labels));
    tasks.push(metrics::spawn(address, recorder, tenants.clone(), stop.clone()).await?);
    tasks.push(metrics::spawn_ranking(
        tenants.clone(),
        config.metrics.tenant_ranking_interval,
    ));
    sinks.push(tenants);
    Ok(ObserveLayer::new(sinks, true))
}

/// Once `shutdown` completes: NOT_SERVING at once, so load balancers stop
/// routing here before connections close; calls still accepted for
/// `drain_delay`; then `stop`.
async fn drain(
    shutdown: impl Future<Output = ()>,
    health: health::Health,
    drain_delay: std::time::Duration,
    stop: watch::Sender<bool>,
) {
    shutdown.await;
    health.stop().await;
    if !drain_delay.is_zero() {
        tracing::info!(
            ?drain_delay,
            "shutting down: NOT_SERVING, still accepting calls"
        );
        tokio::time::sleep(drain_delay).await;
    }
    tracing::info!("shutting down: refusing new calls, finishing in-flight ones");
    let _ = stop.send(true);
}
