//! CheckQuota throughput and latency, as a ratio of `grpc.health.v1.Health/Check`
//! on the same server in the same run.
//!
//! For each tokio runtime flavour of the server (`current_thread`,
//! `multi_thread` with 2 workers) and each limiter (in-process, and Redis when
//! one answers at `--redis-url`), the bench starts the real server on a
//! temporary SQLite file, creates a tenant on a plan with a generous RATE
//! quota, and then alternates blocks of health checks and quota checks, each
//! block `--concurrency` calls in flight for `--block-ms`. Ratios compare
//! the medians over the blocks, so drift of the machine during the run hits
//! both sides alike. The load generator shares the machine's cores with the
//! server, as it would in a sidecar.
//!
//! `cargo bench --bench quota` (`-- --help` for the options).

mod support;

use std::time::Duration;

use clap::Parser;
use tenantd::pb;
use tenantd::pb::quota_service_client::QuotaServiceClient;
use tonic::transport::Channel;

use support::calls::{create_tenant, health_check};
use support::{
    ADMIN_TOKEN, Block, LoadOptions, Running, SERVICE_TOKEN, SqliteFile, authorized, compare,
    load_calls, percentile, runtime_name,
};

/// Command-line options.
#[derive(Debug, Parser)]
struct Options {
    /// Load and block length.
    #[command(flatten)]
    load: LoadOptions,
    /// The Redis to measure against; skipped when it does not answer.
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    /// `cargo bench` passes `--bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// A tenant on a plan whose one RATE quota never refuses in a bench.
async fn tenant(channel: &Channel) -> String {
    let quota = pb::QuotaDefinition {
        key: "calls".to_owned(),
        display_name: "calls".to_owned(),
        kind: pb::QuotaKind::Rate.into(),
        limit: 1_000_000_000,
        period: pb::QuotaPeriod::Second.into(),
        ..Default::default()
    };
    QuotaServiceClient::new(channel.clone())
        .create_plan(authorized(
            pb::CreatePlanRequest {
                plan_id: "bench".to_owned(),
                plan: Some(pb::Plan {
                    display_name: "Bench".to_owned(),
                    quotas: vec![quota],
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            ADMIN_TOKEN,
        ))
        .await
        .expect("create the bench plan");
    let tenant = pb::Tenant {
        slug: "bench".to_owned(),
        display_name: "Bench".to_owned(),
        plan: "bench".to_owned(),
        ..Default::default()
    };
    create_tenant(channel, tenant).await.name
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Health,
    Quota,
}

async fn one_call(channel: &Channel, side: Side, parent: &str) {
    match side {
        Side::Health => health_check(channel).await,
        Side::Quota => {
            let request = pb::CheckQuotaRequest {
                parent: parent.to_owned(),
                costs: vec![pb::QuotaCost {
                    quota: "calls".to_owned(),
                    cost: 1,
                }],
                mode: pb::QuotaMode::AllOrNothing.into(),
                request_id: String::new(),
            };
            QuotaServiceClient::new(channel.clone())
                .check_quota(authorized(request, SERVICE_TOKEN))
                .await
                .expect("check quota");
        }
    }
}

/// `--concurrency` tasks calling `side` for `--block-ms`.
async fn block(channel: &Channel, side: Side, parent: &str, options: &Options) -> Block {
    load_calls(
        &options.load,
        channel,
        parent,
        move |channel, parent, _| async move { one_call(&channel, side, &parent).await },
    )
    .await
}

/// Measures one configuration; prints a table row.
async fn measure(label: &str, multi_thread: bool, redis_url: Option<&str>, options: &Options) {
    let file = SqliteFile::new("quota");
    let mut config = file.config();
    config.redis_url = redis_url.map(str::to_owned);
    let server = Running::start(multi_thread, config);
    let channel = server.connect().await;
    let parent = tenant(&channel).await;
    let mut compared = compare(
        options.load.blocks,
        || block(&channel, Side::Health, &parent, options),
        || block(&channel, Side::Quota, &parent, options),
    )
    .await;
    println!(
        "| {label} | {} | {} | {} / {} | {} / {} |",
        runtime_name(multi_thread),
        compared.rate_cells(),
        percentile(&mut compared.baseline_latencies, 0.5),
        percentile(&mut compared.baseline_latencies, 0.99),
        percentile(&mut compared.measured_latencies, 0.5),
        percentile(&mut compared.measured_latencies, 0.99),
    );
    drop(channel);
    drop(server);
}

async fn redis_answers(url: &str) -> bool {
    let Ok(client) = redis::Client::open(url) else {
        return false;
    };
    let connected = tokio::time::timeout(
        Duration::from_secs(2),
        client.get_multiplexed_async_connection(),
    )
    .await;
    matches!(connected, Ok(Ok(_)))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let options = Options::parse();
    println!(
        "CheckQuota vs Health/Check, {} in flight, {} blocks of {} ms per side\n",
        options.load.concurrency, options.load.blocks, options.load.block_ms
    );
    println!(
        "| limiter | server runtime | health calls/s | CheckQuota calls/s | ratio (range over blocks) | health p50 / p99 µs | CheckQuota p50 / p99 µs |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let redis = redis_answers(&options.redis_url).await;
    for multi_thread in [false, true] {
        measure("in-process", multi_thread, None, &options).await;
        if redis {
            measure("Redis", multi_thread, Some(&options.redis_url), &options).await;
        }
    }
    if !redis {
        println!(
            "\nRedis at {} does not answer: its rows were skipped.",
            options.redis_url
        );
    }
}
