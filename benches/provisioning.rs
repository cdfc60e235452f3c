//! SCHEMA tenants at fleet scale, on PostgreSQL:
//!
//! 1. provisioning latency (CreateTenant of a SCHEMA tenant with the
//!    example template, one at a time: p50/p99);
//! 2. the time to provision 1,000 SCHEMA tenants (`--concurrency` creates
//!    in flight);
//! 3. the time `tenantd tenants migrate` (the real binary) takes to roll one
//!    new template file across every SCHEMA schema;
//! 4. GetTenant and ResolveTenant p50/p99 on a server whose fleet has 10
//!    tenants and on one whose fleet has 10,000, measured in alternating
//!    blocks in the same run so machine drift hits both alike.
//!
//! Each fleet lives in a database of its own that the bench makes and drops
//! on the server at `--admin-url`; the servers connect as a login role that
//! is neither superuser nor owner, and run tenant DDL as the owner.
//!
//! `cargo bench --bench provisioning` (`-- --help` for the options).

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Parser;
use tenantd::pb;
use tenantd::pb::tenant_service_client::TenantServiceClient;
use tokio::task::JoinSet;
use tonic::transport::Channel;

use support::stats::ms;
use support::{ADMIN_TOKEN, BenchDatabase, Running, SERVICE_TOKEN, authorized, percentile};

/// Command-line options.
#[derive(Debug, Parser)]
struct Options {
    /// A PostgreSQL superuser's URL; the bench makes its own databases.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    admin_url: String,
    /// SCHEMA tenants created one at a time for the latency figures.
    #[arg(long, default_value_t = 100)]
    latency_samples: usize,
    /// SCHEMA tenants created for the fleet figure.
    #[arg(long, default_value_t = 1000)]
    fleet: usize,
    /// CreateTenant calls in flight while provisioning the fleet.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Tenants in the large fleet, all told.
    #[arg(long, default_value_t = 10_000)]
    large: usize,
    /// Tenants in the small fleet.
    #[arg(long, default_value_t = 10)]
    small: usize,
    /// Calls per measured block of GetTenant or ResolveTenant.
    #[arg(long, default_value_t = 1000)]
    calls: usize,
    /// Blocks per fleet and method.
    #[arg(long, default_value_t = 5)]
    blocks: usize,
    /// `cargo bench` passes `--bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

type Tenants = TenantServiceClient<Channel>;

/// A copy of the example template in a directory of its own, so a file can
/// be added for the rollout.
fn template_copy() -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/tenant");
    let copy = std::env::temp_dir().join(format!("tenantd-bench-template-{}", std::process::id()));
    std::fs::create_dir_all(&copy).expect("template directory");
    for entry in std::fs::read_dir(source).expect("the example template") {
        let path = entry.expect("a template file").path();
        let name = path.file_name().expect("a file name");
        std::fs::copy(&path, copy.join(name)).expect("copy a template file");
    }
    copy
}

async fn create(client: &mut Tenants, slug: String, plan: &str) -> (Duration, pb::Tenant) {
    let started = Instant::now();
    let tenant = client
        .create_tenant(authorized(
            pb::CreateTenantRequest {
                tenant: Some(pb::Tenant {
                    display_name: slug.clone(),
                    slug,
                    plan: plan.to_owned(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ADMIN_TOKEN,
        ))
        .await
        .expect("create tenant")
        .into_inner();
    (started.elapsed(), tenant)
}

/// Creates `count` tenants on `plan`, `concurrency` at a time; answers
/// their names and how long it took.
async fn create_many(
    channel: &Channel,
    prefix: &str,
    count: usize,
    plan: &'static str,
    concurrency: usize,
) -> (Vec<String>, Duration) {
    let started = Instant::now();
    let mut running = JoinSet::new();
    let mut names = Vec::with_capacity(count);
    for index in 0..count {
        if running.len() >= concurrency {
            let (_, tenant) = running
                .join_next()
                .await
                .expect("a create")
                .expect("joined");
            names.push(check_active(tenant));
        }
        let mut client = Tenants::new(channel.clone());
        let slug = format!("{prefix}-{index}");
        running.spawn(async move { create(&mut client, slug, plan).await });
    }
    while let Some(joined) = running.join_next().await {
        names.push(check_active(joined.expect("joined").1));
    }
    (names, started.elapsed())
}

fn check_active(tenant: pb::Tenant) -> String {
    assert_eq!(
        tenant.state,
        i32::from(pb::TenantState::Active),
        "{} ended {:?}: {}",
        tenant.name,
        tenant.state,
        tenant.state_reason
    );
    tenant.name
}

#[derive(Clone, Copy)]
enum Method {
    Get,
    Resolve,
}

/// One block of sequential calls over `names`, picked by a fixed stride;
/// answers the sorted latencies.
async fn block(
    channel: &Channel,
    method: Method,
    names: &[String],
    calls: usize,
    seed: usize,
) -> Vec<Duration> {
    let mut client = Tenants::new(channel.clone());
    let mut latencies = Vec::with_capacity(calls);
    for call in 0..calls {
        let name = &names[(seed + call * 7919) % names.len()];
        let started = Instant::now();
        match method {
            Method::Get => {
                client
                    .get_tenant(authorized(
                        pb::GetTenantRequest { name: name.clone() },
                        ADMIN_TOKEN,
                    ))
                    .await
                    .expect("get tenant");
            }
            Method::Resolve => {
                let id = name.trim_start_matches("tenants/").to_owned();
                client
                    .resolve_tenant(authorized(
                        pb::ResolveTenantRequest {
                            target: Some(pb::resolve_tenant_request::Target::TenantId(id)),
                        },
                        SERVICE_TOKEN,
                    ))
                    .await
                    .expect("resolve tenant");
            }
        }
        latencies.push(started.elapsed());
    }
    latencies.sort();
    latencies
}

fn run_migrate(database: &BenchDatabase, template: &Path) -> (Duration, String) {
    let started = Instant::now();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tenantd"))
        .args(["tenants", "migrate", "--concurrency", "8"])
        .env("TENANTD_DATABASE_URL", &database.app_url)
        .env("TENANTD_MIGRATION_DATABASE_URL", &database.owner_url)
        .env("TENANTD_TENANT_TEMPLATE_DIR", template)
        .env("TENANTD_LOG", "warn")
        .output()
        .expect("run tenantd tenants migrate");
    let took = started.elapsed();
    assert!(
        output.status.success(),
        "tenants migrate failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (
        took,
        String::from_utf8_lossy(&output.stdout).trim().to_owned(),
    )
}

async fn measure_scaling(
    options: &Options,
    small: (&Channel, &[String]),
    large: (&Channel, &[String]),
) {
    println!(
        "GetTenant / ResolveTenant, {} sequential calls per block, {} blocks per fleet:",
        options.calls, options.blocks
    );
    for (method, label) in [
        (Method::Get, "GetTenant"),
        (Method::Resolve, "ResolveTenant"),
    ] {
        // Warm-up: every tenant of both fleets once.
        for (channel, names) in [small, large] {
            block(channel, method, names, names.len(), 0).await;
        }
        let (mut small_p99, mut large_p99, mut small_p50, mut large_p50) =
            (vec![], vec![], vec![], vec![]);
        for round in 0..options.blocks {
            let mut at_small = block(small.0, method, small.1, options.calls, round).await;
            let mut at_large = block(large.0, method, large.1, options.calls, round).await;
            small_p50.push(percentile(&mut at_small, 0.5));
            small_p99.push(percentile(&mut at_small, 0.99));
            large_p50.push(percentile(&mut at_large, 0.5));
            large_p99.push(percentile(&mut at_large, 0.99));
        }
        for series in [
            &mut small_p50,
            &mut small_p99,
            &mut large_p50,
            &mut large_p99,
        ] {
            series.sort();
        }
        let median = |series: &[Duration]| series[series.len() / 2];
        let ratio = ms(median(&large_p99)) / ms(median(&small_p99));
        println!(
            "  {label:<13} {:>5} tenants p50 {:.3} ms p99 {:.3} ms | {:>5} tenants p50 {:.3} ms p99 {:.3} ms | p99 ratio {ratio:.2} (blocks: {:.2}–{:.2})",
            small.1.len(),
            ms(median(&small_p50)),
            ms(median(&small_p99)),
            large.1.len(),
            ms(median(&large_p50)),
            ms(median(&large_p99)),
            ms(large_p99[0]) / ms(*small_p99.last().expect("blocks")),
            ms(*large_p99.last().expect("blocks")) / ms(small_p99[0]),
        );
    }
}

fn main() {
    let options = Options::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("client runtime");
    runtime.block_on(run(options));
}

/// Phase 1: SCHEMA tenants created one at a time; answers their names.
async fn provision_one_by_one(channel: &Channel, samples: usize) -> Vec<String> {
    let mut client = Tenants::new(channel.clone());
    let mut latencies = Vec::new();
    let mut names = Vec::new();
    for index in 0..samples {
        let (took, tenant) = create(&mut client, format!("latency-{index}"), "professional").await;
        latencies.push(took);
        names.push(check_active(tenant));
    }
    let count = latencies.len();
    println!(
        "  one at a time: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (n = {count})",
        ms(percentile(&mut latencies, 0.5)),
        ms(percentile(&mut latencies, 0.99)),
        ms(*latencies.last().expect("samples")),
    );
    names
}

/// Phase 2: the fleet of SCHEMA tenants, `--concurrency` at a time;
/// answers their names.
async fn provision_fleet(channel: &Channel, options: &Options) -> Vec<String> {
    let (fleet, took) = create_many(
        channel,
        "fleet",
        options.fleet,
        "professional",
        options.concurrency,
    )
    .await;
    println!(
        "  {} SCHEMA tenants, {} in flight: {:.1} s ({:.0} tenants/s)",
        fleet.len(),
        options.concurrency,
        took.as_secs_f64(),
        fleet.len() as f64 / took.as_secs_f64()
    );
    fleet
}

/// Phase 3: one new template file rolled across the `schemas` schemas of
/// `database` by `tenants migrate`.
fn roll_out(database: &BenchDatabase, template: &Path, schemas: usize) {
    std::fs::write(
        template.join("0003_bench_notes.sql"),
        "CREATE TABLE notes (\n    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n    \
         company_id bigint NOT NULL REFERENCES companies (id),\n    body text NOT NULL,\n    \
         create_time timestamptz NOT NULL DEFAULT now()\n);\n\
         CREATE INDEX ix_notes_company ON notes (company_id, create_time);\n",
    )
    .expect("write the new template file");
    let (took, summary) = run_migrate(database, template);
    println!(
        "rollout of one new template file across {schemas} schemas (tenants migrate --concurrency 8): {:.1} s — {summary}",
        took.as_secs_f64()
    );
}

async fn run(options: Options) {
    let template = template_copy();
    let small_db = BenchDatabase::create(&options.admin_url, "tenantd_bench_small").await;
    let large_db = BenchDatabase::create(&options.admin_url, "tenantd_bench_large").await;
    let server_config = |database: &BenchDatabase| {
        let mut config = database.config();
        config.tenant_template_dir = Some(template.clone());
        config
    };
    let small_server = Running::start(true, server_config(&small_db));
    let large_server = Running::start(true, server_config(&large_db));
    let (small, large) = (small_server.connect().await, large_server.connect().await);

    println!(
        "SCHEMA provisioning with the example template ({} files):",
        std::fs::read_dir(&template)
            .map(|dir| dir.count())
            .unwrap_or(0)
    );
    let mut names = provision_one_by_one(&large, options.latency_samples).await;
    names.extend(provision_fleet(&large, &options).await);
    roll_out(&large_db, &template, names.len());

    let (small_names, _) = create_many(&small, "small", options.small, "starter", 1).await;
    let remaining = options.large.saturating_sub(names.len());
    let (pool, took) = create_many(&large, "pool", remaining, "starter", 16).await;
    println!(
        "filled the large fleet with {} POOL tenants in {:.1} s",
        pool.len(),
        took.as_secs_f64()
    );
    names.extend(pool);
    measure_scaling(&options, (&small, &small_names), (&large, &names)).await;

    tokio::task::spawn_blocking(move || drop((small_server, large_server)))
        .await
        .expect("servers stop");
    small_db.drop_database(&options.admin_url).await;
    large_db.drop_database(&options.admin_url).await;
    let _ = std::fs::remove_dir_all(template);
}
