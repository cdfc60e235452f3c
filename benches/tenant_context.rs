//! What the tenant context layer costs per call, with a warm cache.
//!
//! Two servers run inside this process on one SQLite file: the real one
//! (`server::run`) and the same stack without the layer
//! (`server::run_without_tenant_context_for_benchmarks`). Every gated case
//! is reported as a ratio against a reference case measured in the same
//! run, interleaved with it so that a noisy machine's drift lands on both:
//! call by call in the sequential phase, slice by slice under unbroken
//! load in the concurrent one, in a fresh random order every round. Case
//! 1b repeats the baseline as an A/A control: its ratio is the noise floor.
//! Every answer is checked; an unexpected status panics, so a broken server
//! cannot pass as a fast one.
//!
//! The load generator runs on a current-thread runtime on the main thread
//! and the servers on a runtime of their own, current-thread or
//! multi-thread: on a small machine the two compete for cores.
//!
//! Run: `cargo bench --bench tenant_context [-- --flavor multi-thread]`;
//! `-- --help` lists the knobs.
//! One file by design: `cargo` would take every `benches/*.rs` for a bench.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::{CommandFactory, Parser, ValueEnum};
use tenantd::access::gate::{Call, Gate};
use tenantd::access::named_tokens::NamedToken;
use tenantd::pb;
use tenantd::pb::resolve_tenant_request::Target;
use tenantd::pb::tenant_service_client::TenantServiceClient;
use tenantd::settings::Config;
use tenantd::store::{PoolOptions, Store};
use tenantd::tenancy::dns::DnsTxtResolver;
use tenantd::tenancy::tenants::{TenantSettings, Tenants};
use tokio::sync::oneshot;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Channel, Endpoint};

/// Server runtime flavours to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FlavorChoice {
    /// Both, current-thread first.
    Both,
    /// A current-thread server runtime.
    CurrentThread,
    /// A multi-thread server runtime with two workers.
    MultiThread,
}

/// Command-line settings; the defaults keep a full run near one minute.
#[derive(Debug, Parser)]
#[command(about = "Per-call cost of the tenant context layer, warm cache")]
struct Options {
    /// Server runtime flavour(s).
    #[arg(long, value_enum, default_value = "both")]
    flavor: FlavorChoice,
    /// Sequential calls per case, interleaved call by call.
    #[arg(long, default_value_t = 5000)]
    calls: usize,
    /// Rounds of the concurrent phase; each runs every case once.
    #[arg(long, default_value_t = 100)]
    rounds: usize,
    /// Milliseconds per case per round in the concurrent phase.
    #[arg(long, default_value_t = 30)]
    slice_ms: u64,
    /// Connections per server in the concurrent phase.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Calls in flight in the concurrent phase, spread over the connections.
    #[arg(long, default_value_t = 32)]
    in_flight: usize,
    /// Warm-up calls per case before measuring.
    #[arg(long, default_value_t = 300)]
    warmup: usize,
    /// A `tracing` filter (e.g. `info`): installs a subscriber whose output
    /// is discarded, so request spans cost what they cost in production.
    /// Without it spans are disabled, on both servers alike.
    #[arg(long)]
    log: Option<String>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
    /// Filters passed by `cargo bench -- NAME`; ignored.
    #[arg(hide = true)]
    filters: Vec<String>,
}

/// Which server a case calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Server {
    /// The stack without the tenant context layer.
    Bypassed,
    /// The real stack.
    Gated,
}

/// Which RPC a case calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rpc {
    /// `ResolveTenant { tenant_id }`: a cache hit in the handler, no SQL.
    Resolve,
    /// `GetTenant { name }`: one SQL read in the handler.
    Get,
}

/// Which bearer credential a case sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Credential {
    /// A configured service token.
    Service,
    /// A configured admin token.
    Admin,
    /// The tenant's API key, scope `tenant:read`.
    TenantKey,
}

/// One measured case.
struct Case {
    /// How the tables name it.
    label: &'static str,
    server: Server,
    rpc: Rpc,
    credential: Credential,
    /// The index of the case it is compared with, if any.
    reference: Option<usize>,
}

const fn case(
    label: &'static str,
    server: Server,
    rpc: Rpc,
    credential: Credential,
    reference: Option<usize>,
) -> Case {
    Case {
        label,
        server,
        rpc,
        credential,
        reference,
    }
}

use Credential::{Admin, Service, TenantKey};
use Rpc::{Get, Resolve};
use Server::{Bypassed, Gated};

/// How many cases there are.
const CASE_COUNT: usize = 6;
const ALL_CASES: [usize; CASE_COUNT] = [0, 1, 2, 3, 4, 5];

/// The bypassed server ignores credentials; the baseline sends the service
/// token anyway, so both servers receive the same bytes.
#[rustfmt::skip]
static CASES: [Case; CASE_COUNT] = [
    case("1  bypassed ResolveTenant (baseline)", Bypassed, Resolve, Service, None),
    case("1b bypassed ResolveTenant (A/A control)", Bypassed, Resolve, Service, Some(0)),
    case("2  gated    ResolveTenant service token", Gated, Resolve, Service, Some(0)),
    case("3  gated    ResolveTenant admin token", Gated, Resolve, Admin, Some(0)),
    case("4  gated    GetTenant     admin token", Gated, Get, Admin, None),
    case("5  gated    GetTenant     tenant API key", Gated, Get, TenantKey, Some(4)),
];

/// The tenant every case asks about, and the credentials to ask with.
#[derive(Clone)]
struct Fixture {
    tenant_id: String,
    tenant_name: String,
    service: MetadataValue<Ascii>,
    admin: MetadataValue<Ascii>,
    key: MetadataValue<Ascii>,
}

impl Fixture {
    fn credential(&self, credential: Credential) -> MetadataValue<Ascii> {
        match credential {
            Credential::Service => self.service.clone(),
            Credential::Admin => self.admin.clone(),
            Credential::TenantKey => self.key.clone(),
        }
    }
}

fn bearer(token: &str) -> MetadataValue<Ascii> {
    format!("Bearer {token}").parse().expect("a token is ASCII")
}

fn with_credential<T>(message: T, credential: MetadataValue<Ascii>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert("authorization", credential);
    request
}

/// Makes one call of `case` and checks its answer; panics on anything else.
async fn call(client: &mut TenantServiceClient<Channel>, case: &Case, fixture: &Fixture) {
    let credential = fixture.credential(case.credential);
    let answered_id = match case.rpc {
        Rpc::Resolve => {
            let message = pb::ResolveTenantRequest {
                target: Some(Target::TenantId(fixture.tenant_id.clone())),
            };
            match client
                .resolve_tenant(with_credential(message, credential))
                .await
            {
                Ok(answer) => answer.into_inner().tenant_id,
                Err(status) => panic!("{}: unexpected status {status:?}", case.label),
            }
        }
        Rpc::Get => {
            let message = pb::GetTenantRequest {
                name: fixture.tenant_name.clone(),
            };
            match client
                .get_tenant(with_credential(message, credential))
                .await
            {
                Ok(answer) => answer.into_inner().id,
                Err(status) => panic!("{}: unexpected status {status:?}", case.label),
            }
        }
    };
    assert_eq!(
        answered_id, fixture.tenant_id,
        "{}: answered another tenant",
        case.label
    );
}

/// A tokio runtime of the chosen flavour on threads of its own, serving
/// until dropped.
struct ServerRuntime {
    handle: tokio::runtime::Handle,
    release: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ServerRuntime {
    fn start(multi_thread: bool) -> Self {
        let mut builder = if multi_thread {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(2);
            builder
        } else {
            tokio::runtime::Builder::new_current_thread()
        };
        let runtime = builder
            .enable_all()
            .thread_name("server")
            .build()
            .expect("build the server runtime");
        let handle = runtime.handle().clone();
        let (release, released) = oneshot::channel::<()>();
        // A current-thread runtime runs its tasks only inside `block_on`.
        let thread = std::thread::Builder::new()
            .name("server".to_owned())
            .spawn(move || {
                runtime.block_on(async {
                    let _ = released.await;
                });
            })
            .expect("start the server thread");
        Self {
            handle,
            release: Some(release),
            thread: Some(thread),
        }
    }
}

impl Drop for ServerRuntime {
    fn drop(&mut self) {
        if let Some(release) = self.release.take() {
            let _ = release.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One server running on a [`ServerRuntime`].
struct RunningServer {
    address: std::net::SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<tenantd::error::Result<()>>,
}

impl RunningServer {
    fn start(runtime: &ServerRuntime, config: Config, server: Server) -> Self {
        // Bound here, registered with the server runtime's reactor there.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("non-blocking socket");
        let address = listener.local_addr().expect("local address");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = runtime.handle.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            let shutdown = async move {
                let _ = stopped.await;
            };
            match server {
                Server::Gated => tenantd::server::run(config, listener, shutdown).await,
                Server::Bypassed => {
                    tenantd::server::run_without_tenant_context_for_benchmarks(
                        config, listener, shutdown,
                    )
                    .await
                }
            }
        });
        Self {
            address,
            stop,
            task,
        }
    }

    async fn channel(&self) -> Channel {
        Endpoint::from_shared(format!("http://{}", self.address))
            .expect("endpoint")
            .connect()
            .await
            .expect("connect to the bench server")
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        match self.task.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => panic!("the server stopped with an error: {error}"),
            Err(error) => panic!("the server task failed: {error}"),
        }
    }
}

fn random_token(role: &str) -> NamedToken {
    NamedToken {
        name: format!("bench-{role}"),
        token: format!("bench-{role}-{}", uuid::Uuid::new_v4().simple()),
    }
}

/// Creates the tenant and its `tenant:read` key through the gated server.
async fn create_fixture(gated: &Channel, admin: &NamedToken, service: &NamedToken) -> Fixture {
    let mut client = TenantServiceClient::new(gated.clone());
    let create = pb::CreateTenantRequest {
        tenant: Some(pb::Tenant {
            slug: "bench-a".to_owned(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let tenant = client
        .create_tenant(with_credential(create, bearer(&admin.token)))
        .await
        .expect("create tenant A")
        .into_inner();
    let issue = pb::CreateApiKeyRequest {
        parent: tenant.name.clone(),
        api_key: Some(pb::ApiKey {
            display_name: "bench".to_owned(),
            scopes: vec!["tenant:read".to_owned()],
            ..Default::default()
        }),
    };
    let issued = client
        .create_api_key(with_credential(issue, bearer(&admin.token)))
        .await
        .expect("create an API key of tenant A")
        .into_inner();
    Fixture {
        tenant_id: tenant.id,
        tenant_name: tenant.name,
        service: bearer(&service.token),
        admin: bearer(&admin.token),
        key: bearer(&issued.secret),
    }
}

/// Proves each server is what it claims: the gated one refuses a call
/// without credentials, the bypassed one has no context to give a handler.
async fn check_servers_differ(gated: &Channel, bypassed: &Channel, fixture: &Fixture) {
    let resolve = pb::ResolveTenantRequest {
        target: Some(Target::TenantId(fixture.tenant_id.clone())),
    };
    let refused = TenantServiceClient::new(gated.clone())
        .resolve_tenant(resolve)
        .await
        .expect_err("the gated server must refuse a call without credentials");
    assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{refused:?}");
    let get = pb::GetTenantRequest {
        name: fixture.tenant_name.clone(),
    };
    let unguarded = TenantServiceClient::new(bypassed.clone())
        .get_tenant(with_credential(get, fixture.admin.clone()))
        .await
        .expect_err("the bypassed server has no tenant context to give GetTenant");
    assert_eq!(unguarded.code(), tonic::Code::Internal, "{unguarded:?}");
}

/// Clients of both servers; the first of each is the sequential phase's
/// one connection.
struct Clients {
    gated: Vec<TenantServiceClient<Channel>>,
    bypassed: Vec<TenantServiceClient<Channel>>,
}

impl Clients {
    async fn connect(
        gated: (&RunningServer, Channel),
        bypassed: (&RunningServer, Channel),
        connections: usize,
    ) -> Self {
        let mut gated_clients = vec![TenantServiceClient::new(gated.1)];
        let mut bypassed_clients = vec![TenantServiceClient::new(bypassed.1)];
        while gated_clients.len() < connections.max(1) {
            gated_clients.push(TenantServiceClient::new(gated.0.channel().await));
            bypassed_clients.push(TenantServiceClient::new(bypassed.0.channel().await));
        }
        Self {
            gated: gated_clients,
            bypassed: bypassed_clients,
        }
    }

    /// The client of `case`'s server on connection `slot`.
    fn for_case(&self, case: &Case, slot: usize) -> TenantServiceClient<Channel> {
        let connections = match case.server {
            Gated => &self.gated,
            Bypassed => &self.bypassed,
        };
        connections[slot % connections.len()].clone()
    }
}

/// Random case orders (xorshift64): on average each case follows every
/// other one equally often, so what a slow call leaves behind (a busy SQLite thread,
/// cold caches) is not always paid by the same case.
struct Shuffle(u64);

impl Shuffle {
    fn new() -> Self {
        Self(uuid::Uuid::new_v4().as_u64_pair().0 | 1)
    }

    /// `cases` in a fresh random order.
    fn order(&mut self, cases: &[usize]) -> Vec<usize> {
        let mut order = cases.to_vec();
        for last in (1..order.len()).rev() {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            order.swap(last, (self.0 % (last as u64 + 1)) as usize);
        }
        order
    }
}

/// The sequential phase: every call's latency per case, in call order.
struct Sequential {
    calls_ns: Vec<Vec<u64>>,
}

/// The concurrent phase, per case: calls completed, their summed latency,
/// and each slice's calls and seconds.
struct Throughput {
    calls: Vec<u64>,
    latency_ns: Vec<u64>,
    slices: Vec<Vec<(u64, f64)>>,
}

impl Throughput {
    fn new() -> Self {
        Self {
            calls: vec![0; CASE_COUNT],
            latency_ns: vec![0; CASE_COUNT],
            slices: vec![Vec::new(); CASE_COUNT],
        }
    }

    /// Calls per second over `slices`.
    fn rate(slices: &[(u64, f64)]) -> f64 {
        let calls: u64 = slices.iter().map(|(calls, _)| calls).sum();
        calls as f64 / slices.iter().map(|(_, seconds)| seconds).sum::<f64>()
    }
}

/// The concurrent phase runs fast and slow calls apart: the calls a slice
/// leaves in flight spill into the next one, which should be alike.
const RESOLVE_CASES: [usize; 4] = [0, 1, 2, 3];
const GET_CASES: [usize; 2] = [4, 5];

/// How the concurrent phase loads a server.
struct Load {
    in_flight: usize,
    rounds: usize,
    slice: Duration,
}

async fn warm_up(clients: &Clients, fixture: &Fixture, options: &Options) {
    for case in &CASES {
        let mut client = clients.for_case(case, 0);
        for _ in 0..options.warmup {
            call(&mut client, case, fixture).await;
        }
    }
    // Opens every connection's streams and flow-control windows.
    let load = Load {
        in_flight: options.in_flight,
        rounds: 5,
        slice: Duration::from_millis(20),
    };
    let mut discarded = Throughput::new();
    for group in [&RESOLVE_CASES[..], &GET_CASES[..]] {
        concurrent(
            clients,
            fixture,
            group,
            &load,
            &mut Shuffle::new(),
            &mut discarded,
        )
        .await;
    }
}

/// One call of each case per round, in a shuffled order, so neither drift
/// nor the call before favours a case.
async fn sequential(
    clients: &Clients,
    fixture: &Fixture,
    calls: usize,
    shuffle: &mut Shuffle,
) -> Sequential {
    let mut measured = Sequential {
        calls_ns: (0..CASE_COUNT).map(|_| Vec::with_capacity(calls)).collect(),
    };
    let mut connections: Vec<_> = CASES.iter().map(|case| clients.for_case(case, 0)).collect();
    for _ in 0..calls {
        for index in shuffle.order(&ALL_CASES) {
            let started = Instant::now();
            call(&mut connections[index], &CASES[index], fixture).await;
            let elapsed_ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            measured.calls_ns[index].push(elapsed_ns);
        }
    }
    measured
}

/// Tells the concurrent callers to stop.
const STOP: usize = usize::MAX;

/// `in_flight` callers keep calling without pause; every `slice` they
/// switch to the next case of a shuffled round of `group`, so the load
/// never ramps up or down between cases. A call counts for the slice it
/// started in: a slice loses its first moments to the previous slice's
/// calls in flight and gains its own last ones, alike for every case.
/// Adds to `measured`.
async fn concurrent(
    clients: &Clients,
    fixture: &Fixture,
    group: &[usize],
    load: &Load,
    shuffle: &mut Shuffle,
    measured: &mut Throughput,
) {
    let schedule: Arc<[usize]> = (0..load.rounds)
        .flat_map(|_| shuffle.order(group))
        .collect();
    let started_in: Arc<[AtomicU64]> = schedule.iter().map(|_| AtomicU64::new(0)).collect();
    let latency_ns: Arc<[AtomicU64]> = CASES.iter().map(|_| AtomicU64::new(0)).collect();
    let current = Arc::new(AtomicUsize::new(0));
    let mut callers = tokio::task::JoinSet::new();
    for slot in 0..load.in_flight {
        let mut clients: Vec<_> = CASES
            .iter()
            .map(|case| clients.for_case(case, slot))
            .collect();
        let (schedule, started_in, latency_ns, current, fixture) = (
            schedule.clone(),
            started_in.clone(),
            latency_ns.clone(),
            current.clone(),
            fixture.clone(),
        );
        callers.spawn(async move {
            loop {
                let slice = current.load(Ordering::Acquire);
                if slice == STOP {
                    break;
                }
                let index = schedule[slice];
                let started = Instant::now();
                call(&mut clients[index], &CASES[index], &fixture).await;
                let elapsed_ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
                started_in[slice].fetch_add(1, Ordering::Relaxed);
                latency_ns[index].fetch_add(elapsed_ns, Ordering::Relaxed);
            }
        });
    }
    let mut seconds = Vec::with_capacity(schedule.len());
    for slice in 0..schedule.len() {
        let started = Instant::now();
        current.store(slice, Ordering::Release);
        tokio::time::sleep(load.slice).await;
        seconds.push(started.elapsed().as_secs_f64());
    }
    current.store(STOP, Ordering::Release);
    while let Some(joined) = callers.join_next().await {
        match joined {
            Ok(()) => {}
            // A wrong answer panicked in the caller: fail the bench with it.
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(error) => panic!("a caller task failed: {error}"),
        }
    }
    for (slice, &index) in schedule.iter().enumerate() {
        let calls = started_in[slice].load(Ordering::Relaxed);
        measured.calls[index] += calls;
        measured.slices[index].push((calls, seconds[slice]));
    }
    for index in 0..CASE_COUNT {
        measured.latency_ns[index] += latency_ns[index].load(Ordering::Relaxed);
    }
}

/// Each phase's samples are split in this many consecutive blocks to
/// show how much a ratio moves within one run.
const BLOCKS: usize = 10;

fn mean(values: &[u64]) -> f64 {
    values.iter().map(|&value| value as f64).sum::<f64>() / values.len().max(1) as f64
}

/// The value at `quantile` of `values` (nearest rank).
fn percentile(values: &[u64], quantile: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = ((sorted.len() as f64 * quantile).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64
}

/// Median, min and max of `values`, as text.
fn spread(values: &[f64]) -> String {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let (median, low, high) = (
        sorted[sorted.len() / 2],
        sorted[0],
        sorted[sorted.len() - 1],
    );
    format!("{median:.3} [{low:.3}..{high:.3}]")
}

/// Latency ratios of case `index` against its reference: of the means, of
/// the medians, and of the medians block by block.
fn latency_ratios(measured: &Sequential, index: usize) -> Option<(f64, f64, Vec<f64>)> {
    let (case, reference) = (
        &measured.calls_ns[index],
        &measured.calls_ns[CASES[index].reference?],
    );
    let block = case.len().div_ceil(BLOCKS).max(1);
    let blocks = case
        .chunks(block)
        .zip(reference.chunks(block))
        .map(|(case, reference)| percentile(case, 0.5) / percentile(reference, 0.5))
        .collect();
    let medians = percentile(case, 0.5) / percentile(reference, 0.5);
    Some((mean(case) / mean(reference), medians, blocks))
}

/// Per-call cost ratios from throughput, reference rate over case rate:
/// pooled, and over blocks of consecutive rounds.
fn cost_ratios(measured: &Throughput, index: usize) -> Option<(f64, Vec<f64>)> {
    let (case, reference) = (
        &measured.slices[index],
        &measured.slices[CASES[index].reference?],
    );
    let block = case.len().div_ceil(BLOCKS).max(1);
    let blocks = reference
        .chunks(block)
        .zip(case.chunks(block))
        .map(|(reference, case)| Throughput::rate(reference) / Throughput::rate(case))
        .collect();
    Some((Throughput::rate(reference) / Throughput::rate(case), blocks))
}

fn print_sequential(options: &Options, measured: &Sequential) {
    println!(
        "sequential: one connection per server, {} calls per case, interleaved call by call",
        options.calls
    );
    println!(
        "{:<44} {:>8} {:>8} {:>8} {:>10} {:>10}  x ref p50 in {BLOCKS} blocks: median [min..max]",
        "case", "mean us", "p50 us", "p99 us", "x ref mean", "x ref p50"
    );
    for (index, case) in CASES.iter().enumerate() {
        let calls = &measured.calls_ns[index];
        let ratios = latency_ratios(measured, index);
        let (mean_ratio, median_ratio, blocks) = match &ratios {
            Some((mean, median, blocks)) => {
                (format!("{mean:.3}"), format!("{median:.3}"), spread(blocks))
            }
            None => ("-".to_owned(), "-".to_owned(), "-".to_owned()),
        };
        println!(
            "{:<44} {:>8.1} {:>8.1} {:>8.1} {mean_ratio:>10} {median_ratio:>10}  {blocks}",
            case.label,
            mean(calls) / 1e3,
            percentile(calls, 0.5) / 1e3,
            percentile(calls, 0.99) / 1e3,
        );
    }
}

fn print_concurrent(options: &Options, measured: &Throughput) {
    println!(
        "concurrent: {} in flight over {} connections per server, {} shuffled rounds of {} ms per case (ResolveTenant cases apart from GetTenant cases)",
        options.in_flight, options.connections, options.rounds, options.slice_ms
    );
    println!(
        "{:<44} {:>8} {:>8} {:>10}  x ref cost in {BLOCKS} blocks: median [min..max]",
        "case", "calls/s", "mean us", "x ref cost"
    );
    for (index, case) in CASES.iter().enumerate() {
        let (pooled, rounds) = match cost_ratios(measured, index) {
            Some((pooled, rounds)) => (format!("{pooled:.3}"), spread(&rounds)),
            None => ("-".to_owned(), "-".to_owned()),
        };
        let calls = measured.calls[index];
        println!(
            "{:<44} {:>8.0} {:>8.1} {pooled:>10}  {rounds}",
            case.label,
            Throughput::rate(&measured.slices[index]),
            measured.latency_ns[index] as f64 / calls.max(1) as f64 / 1e3,
        );
    }
}

/// The target: the layer adds at most this much to a trivial unary call.
const TARGET_RATIO: f64 = 1.10;

fn print_report(flavor: &str, options: &Options, measured: &Measured) {
    let (sequential, throughput) = (&measured.sequential, &measured.throughput);
    println!();
    println!("== server runtime: {flavor}; load generator: current_thread, same process ==");
    print_sequential(options, sequential);
    print_concurrent(options, throughput);
    print_admit(&measured.admit_ns);
    println!(
        "x ref: 1b, 2 and 3 against 1 (1b is the noise floor); 5 against 4 (key vs token, both gated)"
    );
    for (label, index) in [("service token", 2), ("admin token", 3)] {
        print_verdict(label, index, sequential, throughput);
    }
}

/// Judges the layer on the robust figures: the p50 latency ratio and the
/// cost ratio under load. The mean is shown too; tails move it most.
fn print_verdict(label: &str, index: usize, sequential: &Sequential, throughput: &Throughput) {
    let (mean_ratio, p50_ratio, _) = latency_ratios(sequential, index).unwrap_or_default();
    let (cost_ratio, _) = cost_ratios(throughput, index).unwrap_or_default();
    let reference = CASES[index].reference.unwrap_or_default();
    let p50_extra_us = (percentile(&sequential.calls_ns[index], 0.5)
        - percentile(&sequential.calls_ns[reference], 0.5))
        / 1e3;
    let cost_extra_us = 1e6 / Throughput::rate(&throughput.slices[index])
        - 1e6 / Throughput::rate(&throughput.slices[reference]);
    let verdict = if p50_ratio <= TARGET_RATIO && cost_ratio <= TARGET_RATIO {
        "met"
    } else {
        "NOT met"
    };
    println!(
        "layer with {label}: p50 latency {:+.1} % ({p50_extra_us:+.1} us), mean {:+.1} %; \
         per-call cost under load {:+.1} % ({cost_extra_us:+.2} us of the machine); \
         target <= {:.0} %: {verdict}",
        (p50_ratio - 1.0) * 100.0,
        (mean_ratio - 1.0) * 100.0,
        (cost_ratio - 1.0) * 100.0,
        (TARGET_RATIO - 1.0) * 100.0,
    );
}

/// What `Gate::admit` alone is asked, in process: the RPC path and the
/// credential.
const ADMIT_CASES: [(&str, &str, Credential); 4] = [
    (
        "ResolveTenant service token",
        "/tenantd.v1.TenantService/ResolveTenant",
        Service,
    ),
    (
        "ResolveTenant admin token",
        "/tenantd.v1.TenantService/ResolveTenant",
        Admin,
    ),
    (
        "GetTenant     admin token",
        "/tenantd.v1.TenantService/GetTenant",
        Admin,
    ),
    (
        "GetTenant     tenant API key",
        "/tenantd.v1.TenantService/GetTenant",
        TenantKey,
    ),
];

/// Nanoseconds per `Gate::admit`, without gRPC, for each of
/// [`ADMIT_CASES`]: the layer's decision apart from its plumbing (boxing,
/// header reads, the context in the request extensions). The gate reads
/// the bench database once per key and tenant, then its cache.
async fn measure_admit(
    config: &Config,
    fixture: &Fixture,
    authority: &str,
    shuffle: &mut Shuffle,
) -> [f64; 4] {
    const ROUNDS: usize = 20;
    const CALLS_PER_ROUND: usize = 5000;
    let store = Store::connect(&config.database_url, &PoolOptions::default())
        .await
        .expect("open the bench database");
    let settings = TenantSettings {
        purge_after: config.purge_after,
        base_domain: None,
        domain_claim_ttl: config.domain_claim_ttl,
    };
    let resolver = Arc::new(DnsTxtResolver::new(None).expect("a DNS resolver"));
    let tenants = Tenants::new(store, settings, resolver);
    let gate = Gate::new(
        tenants,
        &config.admin_tokens,
        &config.service_tokens,
        config.cache_ttl,
    );
    let credentials = ADMIT_CASES.map(|(_, _, credential)| fixture.credential(credential));
    let request_id = uuid::Uuid::new_v4().to_string();
    let calls: Vec<Call<'_>> = credentials
        .iter()
        .map(|credential| Call {
            authorization: Some(credential.to_str().expect("an ASCII credential")),
            authority: Some(authority),
            request_id: &request_id,
            ..Call::default()
        })
        .collect();
    let mut total_ns = [0u128; 4];
    for round in 0..=ROUNDS {
        for index in shuffle.order(&[0, 1, 2, 3]) {
            let path = ADMIT_CASES[index].1;
            let started = Instant::now();
            for _ in 0..CALLS_PER_ROUND {
                let admitted = gate.admit(path, &calls[index]).await;
                std::hint::black_box(admitted).expect("the gate admits the bench's calls");
            }
            // Round 0 warms the cache.
            if round > 0 {
                total_ns[index] += started.elapsed().as_nanos();
            }
        }
    }
    total_ns.map(|total| total as f64 / (ROUNDS * CALLS_PER_ROUND) as f64)
}

fn print_admit(admit_ns: &[f64; 4]) {
    println!("in process, Gate::admit alone (no gRPC, no layer plumbing), warm cache:");
    for ((label, _, _), nanos) in ADMIT_CASES.iter().zip(admit_ns) {
        println!("   {label:<41} {:>8.2} us", nanos / 1e3);
    }
}

/// Both servers on one SQLite file, with tenant A and its key.
struct Bench {
    config: Config,
    gated: RunningServer,
    bypassed: RunningServer,
    clients: Clients,
    fixture: Fixture,
}

impl Bench {
    /// Starts the gated server, creates the fixture through it, then starts
    /// the bypassed server on the same file.
    async fn start(runtime: &ServerRuntime, options: &Options, work_dir: &Path) -> Self {
        let database = work_dir.join("bench.db");
        let admin = random_token("admin");
        let service = random_token("service");
        let mut config = Config::for_database(format!("sqlite://{}?mode=rwc", database.display()));
        config.admin_tokens = vec![admin.clone()];
        config.service_tokens = vec![service.clone()];
        // Budgets the load never reaches: the bulkhead's checks run on
        // every call without refusing any.
        config.tenant_budget = tenantd::settings::BudgetSettings {
            max_concurrent_calls: 100_000,
            rate_per_second: 100_000_000,
        };
        config.shutdown_grace = Duration::from_secs(5);
        // Warm means warm for the whole run, whatever the knobs: no entry
        // may expire mid-measurement (changes would drop them; none happen).
        config.cache_ttl = Duration::from_secs(3600);

        let gated = RunningServer::start(runtime, config.clone(), Gated);
        let gated_channel = gated.channel().await;
        let fixture = create_fixture(&gated_channel, &admin, &service).await;
        // Migrated by the gated server; the bypassed one only reads the file.
        let mut bypassed_config = config.clone();
        bypassed_config.migrate_on_start = false;
        let bypassed = RunningServer::start(runtime, bypassed_config, Bypassed);
        let bypassed_channel = bypassed.channel().await;
        check_servers_differ(&gated_channel, &bypassed_channel, &fixture).await;
        let clients = Clients::connect(
            (&gated, gated_channel),
            (&bypassed, bypassed_channel),
            options.connections,
        )
        .await;
        Self {
            config,
            gated,
            bypassed,
            clients,
            fixture,
        }
    }

    async fn stop(self) {
        drop(self.clients);
        self.gated.stop().await;
        self.bypassed.stop().await;
    }
}

/// Everything one server runtime flavour measured.
struct Measured {
    sequential: Sequential,
    throughput: Throughput,
    admit_ns: [f64; 4],
}

async fn measure_flavor(runtime: &ServerRuntime, options: &Options, work_dir: &Path) -> Measured {
    let bench = Bench::start(runtime, options, work_dir).await;
    let (clients, fixture) = (&bench.clients, &bench.fixture);
    eprintln!("warming up: {} calls per case", options.warmup);
    warm_up(clients, fixture, options).await;
    eprintln!("sequential: {} calls per case", options.calls);
    let mut shuffle = Shuffle::new();
    let sequential = sequential(clients, fixture, options.calls, &mut shuffle).await;
    eprintln!(
        "concurrent: {} rounds of {} ms per case",
        options.rounds, options.slice_ms
    );
    let load = Load {
        in_flight: options.in_flight,
        rounds: options.rounds,
        slice: Duration::from_millis(options.slice_ms),
    };
    let mut throughput = Throughput::new();
    for group in [&RESOLVE_CASES[..], &GET_CASES[..]] {
        concurrent(
            clients,
            fixture,
            group,
            &load,
            &mut shuffle,
            &mut throughput,
        )
        .await;
    }
    eprintln!("in process: Gate::admit");
    let authority = bench.gated.address.to_string();
    let admit_ns = measure_admit(&bench.config, fixture, &authority, &mut shuffle).await;
    bench.stop().await;
    Measured {
        sequential,
        throughput,
        admit_ns,
    }
}

/// A temporary directory for the bench database, removed when dropped,
/// also when the bench panics.
struct WorkDir(PathBuf);

impl WorkDir {
    fn create(flavor: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("tenantd-bench-{}-{flavor}", std::process::id()));
        std::fs::create_dir_all(&path).expect("create the bench directory");
        Self(path)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn main() {
    let options = Options::parse();
    let counts = [
        options.calls,
        options.rounds,
        options.connections,
        options.in_flight,
    ];
    if counts.contains(&0) || options.slice_ms == 0 {
        Options::command()
            .error(
                clap::error::ErrorKind::ValueValidation,
                "--calls, --rounds, --slice-ms, --connections and --in-flight must be at least 1",
            )
            .exit();
    }
    if let Some(filter) = &options.log {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::sink)
            .init();
    }
    let flavors: &[bool] = match options.flavor {
        FlavorChoice::Both => &[false, true],
        FlavorChoice::CurrentThread => &[false],
        FlavorChoice::MultiThread => &[true],
    };
    // The load generator: one thread, beside the server's.
    let client_runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build the client runtime");
    let started = Instant::now();
    for &multi_thread in flavors {
        let flavor = if multi_thread {
            "multi_thread (2 workers)"
        } else {
            "current_thread"
        };
        eprintln!("server runtime {flavor}: starting");
        let work_dir = WorkDir::create(if multi_thread { "mt" } else { "ct" });
        let runtime = ServerRuntime::start(multi_thread);
        let measured = client_runtime.block_on(measure_flavor(&runtime, &options, &work_dir.0));
        drop(runtime);
        drop(work_dir);
        print_report(flavor, &options, &measured);
    }
    eprintln!("done in {:.1} s", started.elapsed().as_secs_f64());
}
