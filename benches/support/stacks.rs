//! Two servers on one runtime of their own: the real stack
//! (`server::run`) and the same stack without the tenant context layer
//! (`server::run_admitting` with `Admission::Bypassed`), and the client
//! connections to both.

use std::path::Path;

use tenantd::access::ApiKeys;
use tenantd::access::gate::Gate;
use tenantd::server::Admission;
use tenantd::settings::Config;
use tenantd::store::{PoolOptions, Store};
use tenantd::tenancy::dns::DnsTxtResolver;
use tenantd::tenancy::tenants::{TenantSettings, Tenants};
use tokio::sync::oneshot;
use tonic::transport::{Channel, Endpoint};

use super::WorkDir;
use super::server::{StoppedOnDrop, bind_local, server_runtime};

/// Which stack a server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stack {
    /// The stack without the tenant context layer.
    Bypassed,
    /// The real stack.
    Gated,
}

/// Server runtime flavours to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Flavors {
    /// Both, current-thread first.
    Both,
    /// A current-thread server runtime.
    CurrentThread,
    /// A multi-thread server runtime with two workers.
    MultiThread,
}

impl Flavors {
    /// Runs `measure` once per flavour, each on a fresh [`ServerRuntime`]
    /// and [`WorkDir`], from a current-thread load generator on this
    /// thread, and hands what it measured to `report` once both are gone.
    pub fn each<M>(
        self,
        measure: impl AsyncFn(&ServerRuntime, &Path) -> M,
        report: impl Fn(&str, &M),
    ) {
        let flavors: &[bool] = match self {
            Flavors::Both => &[false, true],
            Flavors::CurrentThread => &[false],
            Flavors::MultiThread => &[true],
        };
        // The load generator: one thread, beside the server's.
        let client_runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("build the client runtime");
        for &multi_thread in flavors {
            let flavor = if multi_thread {
                "multi_thread (2 workers)"
            } else {
                "current_thread"
            };
            eprintln!("server runtime {flavor}: starting");
            let work_dir = WorkDir::create(if multi_thread { "mt" } else { "ct" });
            let runtime = ServerRuntime::start(multi_thread);
            let measured = client_runtime.block_on(measure(&runtime, &work_dir.0));
            drop(runtime);
            drop(work_dir);
            report(flavor, &measured);
        }
    }
}

/// A tokio runtime of the chosen flavour on threads of its own, serving
/// until dropped.
pub struct ServerRuntime {
    handle: tokio::runtime::Handle,
    _thread: StoppedOnDrop,
}

impl ServerRuntime {
    /// A `multi_thread` (2 workers) or `current_thread` runtime.
    pub fn start(multi_thread: bool) -> Self {
        let runtime = server_runtime(multi_thread);
        let handle = runtime.handle().clone();
        let (release, released) = oneshot::channel::<()>();
        // A current-thread runtime runs its tasks only inside `block_on`.
        let thread = std::thread::Builder::new()
            .name(super::SERVER_THREAD.to_owned())
            .spawn(move || {
                runtime.block_on(async {
                    let _ = released.await;
                });
            })
            .expect("start the server thread");
        Self {
            handle,
            _thread: StoppedOnDrop::new(release, thread),
        }
    }
}

/// One server running on a [`ServerRuntime`].
pub struct RunningServer {
    /// Where it listens.
    pub address: std::net::SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<tenantd::error::Result<()>>,
}

impl RunningServer {
    /// Serves `config` with `stack` on `runtime`.
    pub fn start(runtime: &ServerRuntime, config: Config, stack: Stack) -> Self {
        let (listener, address) = bind_local();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = runtime.handle.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            let shutdown = async move {
                let _ = stopped.await;
            };
            let admission = match stack {
                Stack::Gated => Admission::Gate,
                Stack::Bypassed => Admission::Bypassed,
            };
            tenantd::server::run_admitting(config, listener, shutdown, admission).await
        });
        Self {
            address,
            stop,
            task,
        }
    }

    /// A new connection to it.
    pub async fn channel(&self) -> Channel {
        Endpoint::from_shared(format!("http://{}", self.address))
            .expect("endpoint")
            .connect()
            .await
            .expect("connect to the bench server")
    }

    /// Stops it; panics if it stopped with an error.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        match self.task.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => panic!("the server stopped with an error: {error}"),
            Err(error) => panic!("the server task failed: {error}"),
        }
    }
}

/// Clients of both servers; the first of each is the sequential phase's
/// one connection.
pub struct Clients<C> {
    gated: Vec<C>,
    bypassed: Vec<C>,
}

impl<C: Clone> Clients<C> {
    /// `connections` clients (at least one) of each server, made by `client`
    /// from a channel; the channels given are the first ones.
    pub async fn connect(
        gated: (&RunningServer, Channel),
        bypassed: (&RunningServer, Channel),
        connections: usize,
        client: impl Fn(Channel) -> C,
    ) -> Self {
        let mut gated_clients = vec![client(gated.1)];
        let mut bypassed_clients = vec![client(bypassed.1)];
        while gated_clients.len() < connections.max(1) {
            gated_clients.push(client(gated.0.channel().await));
            bypassed_clients.push(client(bypassed.0.channel().await));
        }
        Self {
            gated: gated_clients,
            bypassed: bypassed_clients,
        }
    }

    /// The client of `stack`'s server on connection `slot`.
    pub fn of(&self, stack: Stack, slot: usize) -> C {
        let connections = match stack {
            Stack::Gated => &self.gated,
            Stack::Bypassed => &self.bypassed,
        };
        connections[slot % connections.len()].clone()
    }
}

/// Both servers on one store, and clients of both.
pub struct Pair<C> {
    /// The real stack.
    pub gated: RunningServer,
    /// The stack without the tenant context layer.
    pub bypassed: RunningServer,
    /// Clients of both.
    pub clients: Clients<C>,
}

impl<C: Clone> Pair<C> {
    /// Starts the gated server with `config`, runs `setup` through it, then
    /// starts the bypassed server on the same store (migrated by the gated
    /// one: the bypassed one only reads it) and connects `connections`
    /// clients made by `client` to each.
    pub async fn start<F>(
        runtime: &ServerRuntime,
        config: &Config,
        connections: usize,
        client: impl Fn(Channel) -> C,
        setup: impl AsyncFnOnce(&Channel) -> F,
    ) -> (Self, F) {
        let gated = RunningServer::start(runtime, config.clone(), Stack::Gated);
        let gated_channel = gated.channel().await;
        let made = setup(&gated_channel).await;
        let mut bypassed_config = config.clone();
        bypassed_config.migrate_on_start = false;
        let bypassed = RunningServer::start(runtime, bypassed_config, Stack::Bypassed);
        let bypassed_channel = bypassed.channel().await;
        let clients = Clients::connect(
            (&gated, gated_channel),
            (&bypassed, bypassed_channel),
            connections,
            client,
        )
        .await;
        let pair = Self {
            gated,
            bypassed,
            clients,
        };
        (pair, made)
    }

    /// Closes the clients, then stops both servers.
    pub async fn stop(self) {
        drop(self.clients);
        self.gated.stop().await;
        self.bypassed.stop().await;
    }
}

/// The gate the gated stack runs, on its own connection to the store of
/// `config`, for measuring it alone in process.
pub async fn bench_gate(config: &Config) -> Gate {
    let store = Store::connect(&config.database_url, &PoolOptions::default())
        .await
        .expect("open the bench database");
    let settings = TenantSettings {
        purge_after: config.purge_after,
        base_domain: None,
        domain_claim_ttl: config.domain_claim_ttl,
    };
    let resolver = std::sync::Arc::new(DnsTxtResolver::new(None).expect("a DNS resolver"));
    let tenants = Tenants::new(store.clone(), settings, resolver);
    let keys = ApiKeys::new(store, tenants.clone());
    Gate::new(
        tenants,
        keys,
        &config.admin_tokens,
        &config.service_tokens,
        config.cache_ttl,
        tenantd::access::source::TrustedProxies::default(),
        tenantd::access::jwt::Issuers::new(config.jwt_issuers.clone())
            .expect("the bench's issuers"),
    )
}
