//! Noisy neighbour: tenant A sends a steady load of listings
//! (`ListAuditEvents`, 50 events a page) with its own API key; tenant B
//! sends ten times as many of the same call. A's p99 latency with B
//! flooding is compared with its p99 alone, in one run, on both server
//! runtime flavours. The bulkhead admits B up to its budget and refuses
//! the rest cheaply, so A keeps its latency.
//!
//! Calls are paced open-loop (each call starts on its own schedule, not
//! after the previous one answers), so a slow answer cannot hide the
//! calls that would have queued behind it.
//!
//! `cargo bench --bench noisy_neighbour -- [--rate 100] [--seconds 10]`

mod support;

use std::time::{Duration, Instant};

use clap::Parser;
use support::{ADMIN_TOKEN, Running, authorized, percentile, with_tokens};
use tenantd::config::Config;
use tenantd::middleware::bulkhead::BudgetSettings;
use tenantd::pb;
use tenantd::pb::tenant_service_client::TenantServiceClient;
use tonic::transport::Channel;

#[derive(Parser)]
struct Options {
    /// Tenant A's calls per second; B sends ten times as many.
    #[arg(long, default_value_t = 100)]
    rate: u32,
    /// How long each phase lasts.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Each tenant's rate budget on the server, calls per second.
    #[arg(long, default_value_t = 200)]
    budget_rate: u32,
    /// Each tenant's concurrency budget on the server.
    #[arg(long, default_value_t = 4)]
    budget_concurrency: u32,
    #[arg(long, hide = true)]
    bench: bool,
}

/// Creates a tenant with 60 audit events (its creation and label
/// updates) and a key that may read them; answers (name, key).
async fn tenant_with_history(channel: &Channel, slug: &str) -> (String, String) {
    let mut admin = TenantServiceClient::new(channel.clone());
    let tenant = admin
        .create_tenant(authorized(
            pb::CreateTenantRequest {
                tenant: Some(pb::Tenant {
                    slug: slug.into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ADMIN_TOKEN,
        ))
        .await
        .expect("create tenant")
        .into_inner();
    for round in 0..60 {
        admin
            .update_tenant(authorized(
                pb::UpdateTenantRequest {
                    tenant: Some(pb::Tenant {
                        name: tenant.name.clone(),
                        display_name: format!("{slug} {round}"),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                ADMIN_TOKEN,
            ))
            .await
            .expect("update tenant");
    }
    let key = admin
        .create_api_key(authorized(
            pb::CreateApiKeyRequest {
                parent: tenant.name.clone(),
                api_key: Some(pb::ApiKey {
                    display_name: "bench".into(),
                    scopes: vec!["audit:read".into()],
                    ..Default::default()
                }),
            },
            ADMIN_TOKEN,
        ))
        .await
        .expect("create key")
        .into_inner()
        .secret;
    (tenant.name, key)
}

/// What one tenant's paced load saw.
#[derive(Default)]
struct Seen {
    /// Latencies of answered calls, µs.
    ok: Vec<u64>,
    /// Calls refused by the bulkhead.
    refused: usize,
}

/// Sends `rate` listings a second for `length`, each on its own schedule.
async fn paced(channel: Channel, tenant: String, key: String, rate: u32, length: Duration) -> Seen {
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let end = Instant::now() + length;
    let mut calls = Vec::new();
    while Instant::now() < end {
        ticks.tick().await;
        let (channel, tenant, key) = (channel.clone(), tenant.clone(), key.clone());
        calls.push(tokio::spawn(async move {
            let started = Instant::now();
            let answer = TenantServiceClient::new(channel)
                .list_audit_events(authorized(
                    pb::ListAuditEventsRequest {
                        parent: tenant,
                        page_size: 50,
                        ..Default::default()
                    },
                    &key,
                ))
                .await;
            (answer.map(drop), started.elapsed())
        }));
    }
    let mut seen = Seen::default();
    for call in calls {
        match call.await.expect("call task") {
            (Ok(()), took) => seen
                .ok
                .push(u64::try_from(took.as_micros()).unwrap_or(u64::MAX)),
            (Err(status), _) if status.code() == tonic::Code::ResourceExhausted => {
                seen.refused += 1
            }
            (Err(status), _) => panic!("unexpected answer: {status:?}"),
        }
    }
    seen
}

async fn measure(multi_thread: bool, options: &Options) {
    let path =
        std::env::temp_dir().join(format!("tenantd-bench-noisy-{}.db", uuid::Uuid::new_v4()));
    let mut config = with_tokens(Config::for_database(format!(
        "sqlite://{}?mode=rwc",
        path.display()
    )));
    config.tenant_budget = BudgetSettings {
        max_concurrent_calls: options.budget_concurrency,
        rate_per_second: options.budget_rate,
    };
    let server = Running::start(multi_thread, config);
    let channel = server.connect().await;
    let (a, a_key) = tenant_with_history(&channel, "tenant-a").await;
    let (b, b_key) = tenant_with_history(&channel, "tenant-b").await;
    let length = Duration::from_secs(options.seconds);
    // Warm-up, then A alone, then A with B flooding.
    paced(
        channel.clone(),
        a.clone(),
        a_key.clone(),
        options.rate,
        Duration::from_secs(2),
    )
    .await;
    let mut alone = paced(
        channel.clone(),
        a.clone(),
        a_key.clone(),
        options.rate,
        length,
    )
    .await;
    let flood = tokio::spawn(paced(channel.clone(), b, b_key, options.rate * 10, length));
    let mut beside = paced(channel.clone(), a, a_key, options.rate, length).await;
    let flood = flood.await.expect("flood");
    let (alone_p99, beside_p99) = (
        percentile(&mut alone.ok, 0.99),
        percentile(&mut beside.ok, 0.99),
    );
    println!(
        "| {} | {} | {} / {} | {} / {} | {:.2} | {} of {} ({:.0} %) | {} |",
        if multi_thread {
            "multi_thread"
        } else {
            "current_thread"
        },
        options.rate,
        percentile(&mut alone.ok, 0.5),
        alone_p99,
        percentile(&mut beside.ok, 0.5),
        beside_p99,
        beside_p99 as f64 / alone_p99.max(1) as f64,
        flood.refused,
        flood.refused + flood.ok.len(),
        100.0 * flood.refused as f64 / (flood.refused + flood.ok.len()).max(1) as f64,
        alone.refused + beside.refused,
    );
    drop(server);
    let _ = std::fs::remove_file(&path);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let options = Options::parse();
    println!(
        "ListAuditEvents (50 a page), tenant A at {} calls/s, tenant B at {} calls/s; budget {} calls/s and {} in flight per tenant; {} s per phase\n",
        options.rate,
        options.rate * 10,
        options.budget_rate,
        options.budget_concurrency,
        options.seconds
    );
    println!(
        "| server runtime | A calls/s | A alone p50 / p99 µs | A beside B p50 / p99 µs | p99 ratio | B refused | A refused |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for multi_thread in [false, true] {
        measure(multi_thread, &options).await;
    }
}
