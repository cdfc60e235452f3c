//! What the benches share: the real server on a runtime of its own, a
//! channel to it, credentials, and a PostgreSQL database with a login role
//! that is neither superuser nor owner, as in production.

#![allow(dead_code)] // Each bench uses its own part of this module.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database};
use tenantd::access::named_tokens::NamedToken;
use tenantd::settings::Config;
use tokio::sync::oneshot;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Channel, Endpoint};

/// The operator token bench servers accept.
pub const ADMIN_TOKEN: &str = "bench-admin-token-0123456789";
/// The service token bench servers accept.
pub const SERVICE_TOKEN: &str = "bench-service-token-0123456789";
/// The name of the bench server's threads, so profiles and CPU accounting
/// can tell them from the load generator's.
pub const SERVER_THREAD: &str = "tenantd-server";
/// The login role bench servers connect to PostgreSQL as.
pub const LOGIN: &str = "tenantd_bench_app";

/// One measured block: calls per second, per-call latencies (µs) and the
/// CPU time the server's and the load generator's threads spent per call.
pub struct Block {
    /// Calls completed per second.
    pub rate: f64,
    /// Each call's latency, in microseconds.
    pub latencies: Vec<u64>,
    /// CPU time of the server's threads per call, µs.
    pub server_cpu: f64,
    /// CPU time of every other thread of the process per call, µs.
    pub client_cpu: f64,
}

/// CPU time so far of this process's threads, in clock ticks: the bench
/// server's ([`SERVER_THREAD`]) and all the others. Linux only; zero
/// elsewhere.
fn cpu_ticks() -> (u64, u64) {
    let (mut server, mut others) = (0, 0);
    let server_comm = format!("({SERVER_THREAD}");
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return (0, 0);
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ...`: utime and stime are the 12th and 13th
        // fields after the parenthesis.
        let Some((head, tail)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = tail.split_whitespace().collect();
        let ticks: u64 = fields
            .get(11..13)
            .map(|both| {
                both.iter()
                    .filter_map(|field| field.parse::<u64>().ok())
                    .sum()
            })
            .unwrap_or(0);
        if head.ends_with(&server_comm) {
            server += ticks;
        } else {
            others += ticks;
        }
    }
    (server, others)
}

/// Clock ticks per second of `/proc` CPU times (`USER_HZ`, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// How hard and how long the comparison benches load the server.
#[derive(Debug, clap::Args)]
pub struct LoadOptions {
    /// Calls in flight at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Length of one measured block, in milliseconds.
    #[arg(long, default_value_t = 1500)]
    pub block_ms: u64,
    /// Blocks per side (baseline, measured call) and configuration.
    #[arg(long, default_value_t = 5)]
    pub blocks: usize,
}

/// `load.concurrency` tasks each calling `call(n)` (with `n` counting calls
/// across tasks) one after the other until `load.block_ms` has passed.
pub async fn load_block<F, Fut>(load: &LoadOptions, call: F) -> Block
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let counter = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let cpu_before = cpu_ticks();
    let started = Instant::now();
    let tasks: Vec<_> = (0..load.concurrency)
        .map(|_| {
            let (call, stop, counter) = (call.clone(), Arc::clone(&stop), Arc::clone(&counter));
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let number = counter.fetch_add(1, Ordering::Relaxed);
                    let sent = Instant::now();
                    call(number).await;
                    latencies.push(sent.elapsed().as_micros() as u64);
                }
                latencies
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(load.block_ms)).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("load task"));
    }
    let rate = latencies.len() as f64 / started.elapsed().as_secs_f64();
    let cpu_after = cpu_ticks();
    let per_call = |before: u64, after: u64| {
        (after - before) as f64 / TICKS_PER_SECOND * 1e6 / latencies.len().max(1) as f64
    };
    Block {
        rate,
        server_cpu: per_call(cpu_before.0, cpu_after.0),
        client_cpu: per_call(cpu_before.1, cpu_after.1),
        latencies,
    }
}

/// A measured call against a baseline call on the same server, in
/// alternating blocks.
pub struct Comparison {
    /// The baseline's median rate over the blocks, calls per second.
    pub baseline_rate: f64,
    /// The measured call's median rate over the blocks.
    pub measured_rate: f64,
    /// The lowest and highest ratio of one block pair.
    pub spread: (f64, f64),
    /// Every baseline latency, µs.
    pub baseline_latencies: Vec<u64>,
    /// Every measured latency, µs.
    pub measured_latencies: Vec<u64>,
    /// Median server CPU per call, µs: baseline, measured.
    pub server_cpu: (f64, f64),
    /// Median load generator CPU per call, µs: baseline, measured.
    pub client_cpu: (f64, f64),
}

impl Comparison {
    /// The measured rate as a share of the baseline's.
    pub fn ratio(&self) -> f64 {
        self.measured_rate / self.baseline_rate
    }
}

/// Warms both sides with one block each, then runs `blocks` pairs of
/// blocks, baseline first, so drift of the machine hits both alike.
pub async fn compare<B, M, BF, MF>(blocks: usize, baseline: B, measured: M) -> Comparison
where
    B: Fn() -> BF,
    M: Fn() -> MF,
    BF: Future<Output = Block>,
    MF: Future<Output = Block>,
{
    measured().await;
    baseline().await;
    let (mut baseline_rates, mut measured_rates) = (Vec::new(), Vec::new());
    let (mut baseline_latencies, mut measured_latencies) = (Vec::new(), Vec::new());
    let mut cpu: [Vec<f64>; 4] = Default::default();
    for _ in 0..blocks {
        let base = baseline().await;
        baseline_rates.push(base.rate);
        baseline_latencies.extend(base.latencies);
        let other = measured().await;
        measured_rates.push(other.rate);
        measured_latencies.extend(other.latencies);
        for (kept, value) in cpu.iter_mut().zip([
            base.server_cpu,
            other.server_cpu,
            base.client_cpu,
            other.client_cpu,
        ]) {
            kept.push(value);
        }
    }
    let [
        mut server_base,
        mut server_measured,
        mut client_base,
        mut client_measured,
    ] = cpu;
    let ratios: Vec<f64> = measured_rates
        .iter()
        .zip(&baseline_rates)
        .map(|(other, base)| other / base)
        .collect();
    let spread = (
        ratios.iter().copied().fold(f64::INFINITY, f64::min),
        ratios.iter().copied().fold(0.0, f64::max),
    );
    Comparison {
        baseline_rate: median(&mut baseline_rates),
        measured_rate: median(&mut measured_rates),
        spread,
        baseline_latencies,
        measured_latencies,
        server_cpu: (median(&mut server_base), median(&mut server_measured)),
        client_cpu: (median(&mut client_base), median(&mut client_measured)),
    }
}

/// The median of `values` (sorted in place).
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The `quantile` of `values` (sorted in place).
pub fn percentile(values: &mut [u64], quantile: f64) -> u64 {
    values.sort_unstable();
    let index = ((values.len() as f64 - 1.0) * quantile).round() as usize;
    values[index]
}

/// `Bearer {token}` as metadata.
pub fn bearer(token: &str) -> MetadataValue<Ascii> {
    format!("Bearer {token}").parse().expect("ascii token")
}

/// `message` sent with `token`.
pub fn authorized<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", bearer(token));
    request
}

/// Budgets the bench's load never reaches, so the bulkhead's checks run
/// on every call without refusing any.
pub const UNREACHED_BUDGET: tenantd::settings::BudgetSettings = tenantd::settings::BudgetSettings {
    max_concurrent_calls: 100_000,
    rate_per_second: 100_000_000,
};

/// `config` with the bench tokens and a budget the load never reaches.
pub fn with_tokens(mut config: Config) -> Config {
    config.tenant_budget = UNREACHED_BUDGET;
    config.admin_tokens = vec![NamedToken {
        name: "bench".into(),
        token: ADMIN_TOKEN.into(),
    }];
    config.service_tokens = vec![NamedToken {
        name: "bench-service".into(),
        token: SERVICE_TOKEN.into(),
    }];
    config
}

/// A server under test, on a runtime thread of its own.
pub struct Running {
    /// Where it listens.
    pub address: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// Serves `config` on a `multi_thread` (2 workers) or `current_thread`
    /// runtime until dropped.
    pub fn start(multi_thread: bool, config: Config) -> Self {
        let mut builder = if multi_thread {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(2).thread_name(SERVER_THREAD);
            builder
        } else {
            tokio::runtime::Builder::new_current_thread()
        };
        let runtime = builder.enable_all().build().expect("server runtime");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("non-blocking");
        let address = listener.local_addr().expect("address");
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(SERVER_THREAD.to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                    let shutdown = async move {
                        let _ = stopped.await;
                    };
                    if let Err(error) = tenantd::server::run(config, listener, shutdown).await {
                        eprintln!("bench server failed: {error}");
                    }
                });
            })
            .expect("server thread");
        Self {
            address,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// A channel to it, once it answers.
    pub async fn connect(&self) -> Channel {
        let endpoint = Endpoint::from_shared(format!("http://{}", self.address)).expect("endpoint");
        for _ in 0..200 {
            if let Ok(channel) = endpoint.connect().await {
                return channel;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the bench server did not start")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A new PostgreSQL database, migrated by its owner, and the login role
/// (neither superuser nor owner) the servers connect as.
pub struct BenchDatabase {
    /// The owner's URL (the admin URL's user), for migrations and setup.
    pub owner_url: String,
    /// The login role's URL.
    pub app_url: String,
    /// The database name.
    pub name: String,
}

impl BenchDatabase {
    /// Creates it on the server of `admin_url` (a superuser's URL).
    pub async fn create(admin_url: &str, prefix: &str) -> Self {
        let admin = Database::connect(admin_url)
            .await
            .expect("connect as superuser");
        let name = format!("{prefix}_{}", chrono::Utc::now().timestamp_millis());
        for statement in [
            format!("CREATE DATABASE {name}"),
            format!(
                "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{LOGIN}') \
                 THEN CREATE ROLE {LOGIN} LOGIN PASSWORD 'bench'; END IF; END $$"
            ),
        ] {
            admin.execute_unprepared(&statement).await.expect("set up");
        }
        let _ = admin.close().await;
        let (server, _) = admin_url.rsplit_once('/').expect("a database in the URL");
        let owner_url = format!("{server}/{name}");
        let host = server.rsplit_once('@').map_or(server, |(_, host)| host);
        let app_url = format!("postgres://{LOGIN}:bench@{host}/{name}");
        tenantd::server::migrate(&owner_url).await.expect("migrate");
        let owner = Database::connect(&owner_url)
            .await
            .expect("connect as owner");
        // Grants come with the migrations; the login role joins the app role.
        owner
            .execute_unprepared(&format!("GRANT tenantd_app TO {LOGIN}"))
            .await
            .expect("grant");
        let _ = owner.close().await;
        Self {
            owner_url,
            app_url,
            name,
        }
    }

    /// Server settings for it, with the bench tokens.
    pub fn config(&self) -> Config {
        let mut config = Config::for_database(&self.app_url);
        config.migration_database_url = self.owner_url.clone();
        with_tokens(config)
    }

    /// Drops it, the NOLOGIN roles of its SCHEMA tenants and the bench login
    /// role (roles are the cluster's, not the database's), from the server
    /// of `admin_url`.
    pub async fn drop_database(self, admin_url: &str) {
        let mut roles = Vec::new();
        if let Ok(owner) = Database::connect(&self.owner_url).await {
            let listed = owner
                .query_all_raw(sea_orm::Statement::from_string(
                    sea_orm::DbBackend::Postgres,
                    "SELECT nspname FROM pg_namespace WHERE nspname ~ '^tenant_[0-9a-f]{32}$'",
                ))
                .await
                .unwrap_or_default();
            roles = listed
                .iter()
                .filter_map(|row| row.try_get::<String>("", "nspname").ok())
                .collect();
            let _ = owner.close().await;
        }
        if let Ok(admin) = Database::connect(admin_url).await {
            let _ = admin
                .execute_unprepared(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
                .await;
            for role in roles {
                let _ = admin
                    .execute_unprepared(&format!("DROP ROLE IF EXISTS {role}"))
                    .await;
            }
            // Another bench still running keeps it: it has rights there.
            let _ = admin
                .execute_unprepared(&format!("DROP ROLE IF EXISTS {LOGIN}"))
                .await;
            let _ = admin.close().await;
        }
    }
}
