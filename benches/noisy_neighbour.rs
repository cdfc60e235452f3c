//! Noisy neighbour: tenant A sends a steady load of listings
//! (`ListAuditEvents`, 50 events a page) with its own API key; tenant B
//! sends ten times as many of the same call. A's p99 latency with B
//! flooding is compared with its p99 alone, in one run, on both server
//! runtime flavours and both stores (embedded SQLite, PostgreSQL). The
//! bulkhead admits B up to its budget and refuses the rest cheaply; the
//! database pool's fair queue gives A's transactions their turn between
//! B's, so A keeps its latency.
//!
//! Calls are paced open-loop (each call starts on its own schedule, not
//! after the previous one answers), so a slow answer cannot hide the
//! calls that would have queued behind it. A call's latency runs until its
//! answer's bytes have arrived; the answers are not decoded, so the load
//! generator, on the same cores, takes less from the server.
//!
//! Each round also measures A alone a second time, as an A/A control:
//! the p99 ratio of two quiet phases shows how far the machine's own noise
//! moves a p99, which bounds what the flood's ratio can show.
//!
//! `cargo bench --bench noisy_neighbour -- [--rate 100] [--rounds 6] [--seconds 4] [--page-size 50] [--store both]`

mod support;

use std::time::Duration;

use clap::Parser;
use support::calls::create_tenant;
use support::paced::{Seen, paced, unary_undecoded};
use support::stats::spread;
use support::{ADMIN_TOKEN, BenchStore, Running, authorized, percentile, runtime_name};
use tenantd::pb;
use tenantd::pb::tenant_service_client::TenantServiceClient;
use tenantd::settings::BudgetSettings;
use tonic::transport::Channel;

#[derive(Parser)]
struct Options {
    /// Tenant A's calls per second; B sends ten times as many.
    #[arg(long, default_value_t = 100)]
    rate: u32,
    /// How long each phase of a round lasts.
    #[arg(long, default_value_t = 4)]
    seconds: u64,
    /// Rounds of A alone, A alone again (the control), then A beside B.
    #[arg(long, default_value_t = 6)]
    rounds: u32,
    /// Each tenant's rate budget on the server, calls per second.
    #[arg(long, default_value_t = 200)]
    budget_rate: u32,
    /// Each tenant's concurrency budget on the server.
    #[arg(long, default_value_t = 4)]
    budget_concurrency: u32,
    /// Audit events a page.
    #[arg(long, default_value_t = 50)]
    page_size: i32,
    /// `sqlite`, `postgres` or `both`.
    #[arg(long, default_value = "both")]
    store: String,
    /// A PostgreSQL superuser's URL; the bench makes its own database.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    admin_url: String,
    #[arg(long, hide = true)]
    bench: bool,
}

/// Creates a tenant with 60 audit events (its creation and label
/// updates) and a key that may read them; answers (name, key).
async fn tenant_with_history(channel: &Channel, slug: &str) -> (String, String) {
    let mut admin = TenantServiceClient::new(channel.clone());
    let tenant = pb::Tenant {
        slug: slug.to_owned(),
        ..Default::default()
    };
    let tenant = create_tenant(channel, tenant).await;
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

const LIST_AUDIT_EVENTS: &str = "/tenantd.v1.TenantService/ListAuditEvents";

/// Sends `rate` listings a second of `tenant` with `key` for `length`,
/// each on its own schedule, keeping the answers undecoded.
async fn paced_listings(
    channel: Channel,
    (tenant, key): (String, String),
    rate: u32,
    page_size: i32,
    length: Duration,
) -> Seen {
    paced(rate, length, || {
        let request = authorized(
            pb::ListAuditEventsRequest {
                parent: tenant.clone(),
                page_size,
                ..Default::default()
            },
            &key,
        );
        unary_undecoded(channel.clone(), LIST_AUDIT_EVENTS, request)
    })
    .await
}

/// What a configuration's rounds saw: A alone, A beside B, B's flood, and
/// the per-round p99 ratios of A beside B and of A alone again (the A/A
/// control), each against A alone.
#[derive(Default)]
struct Rounds {
    alone: Seen,
    beside: Seen,
    flood: Seen,
    ratios: Vec<f64>,
    control: Vec<f64>,
}

/// Warm-up, then rounds of A alone, A alone again and A with B flooding,
/// so that drift on a noisy machine lands on every phase alike. `a` and
/// `b` are each tenant's name and key; A calls on `channel`.
async fn rounds(
    server: &Running,
    channel: &Channel,
    (a, b): ((String, String), (String, String)),
    options: &Options,
) -> Rounds {
    let (rate, page_size) = (options.rate, options.page_size);
    let a_load = |length| paced_listings(channel.clone(), a.clone(), rate, page_size, length);
    a_load(Duration::from_secs(2)).await;
    // B is another client, on its own connection, as another service
    // would be: sharing A's would put B's answers ahead of A's on the wire.
    let b_channel = server.connect().await;
    let length = Duration::from_secs(options.seconds);
    let mut seen = Rounds::default();
    for _ in 0..options.rounds {
        let mut quiet = a_load(length).await;
        let mut again = a_load(length).await;
        seen.control.push(again.p99_ratio(&mut quiet));
        seen.alone.refused += again.refused;
        let flood = paced_listings(b_channel.clone(), b.clone(), rate * 10, page_size, length);
        let flooding = tokio::spawn(flood);
        let mut crowded = a_load(length).await;
        seen.ratios.push(crowded.p99_ratio(&mut quiet));
        seen.alone.add(quiet);
        seen.beside.add(crowded);
        seen.flood.add(flooding.await.expect("flood"));
    }
    seen
}

async fn measure(postgres: bool, multi_thread: bool, options: &Options) {
    let store = BenchStore::create(postgres, &options.admin_url, "noisy").await;
    let mut config = store.config();
    config.tenant_budget = BudgetSettings {
        max_concurrent_calls: options.budget_concurrency,
        rate_per_second: options.budget_rate,
    };
    let server = Running::start(multi_thread, config);
    let channel = server.connect().await;
    let a = tenant_with_history(&channel, "tenant-a").await;
    let b = tenant_with_history(&channel, "tenant-b").await;
    let mut seen = rounds(&server, &channel, (a, b), options).await;
    let (alone, beside, flood) = (&mut seen.alone, &mut seen.beside, &seen.flood);
    let (alone_p99, beside_p99) = (
        percentile(&mut alone.ok, 0.99),
        percentile(&mut beside.ok, 0.99),
    );
    println!(
        "| {} | {} | {} / {} | {} / {} | {:.2} | {} | {} | {} of {} ({:.0} %) | {} |",
        store.name(),
        runtime_name(multi_thread),
        percentile(&mut alone.ok, 0.5),
        alone_p99,
        percentile(&mut beside.ok, 0.5),
        beside_p99,
        beside_p99 as f64 / alone_p99.max(1) as f64,
        spread(&seen.ratios, 2, "–"),
        spread(&seen.control, 2, "–"),
        flood.refused,
        flood.refused + flood.ok.len(),
        100.0 * flood.refused as f64 / (flood.refused + flood.ok.len()).max(1) as f64,
        alone.refused + beside.refused,
    );
    drop(server);
    store.remove(&options.admin_url).await;
}
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let options = Options::parse();
    println!(
        "ListAuditEvents ({} a page), tenant A at {} calls/s, tenant B at {} calls/s; budget {} calls/s and {} in flight per tenant; {} rounds of {} s alone, {} s alone again and {} s beside B\n",
        options.page_size,
        options.rate,
        options.rate * 10,
        options.budget_rate,
        options.budget_concurrency,
        options.rounds,
        options.seconds,
        options.seconds,
        options.seconds
    );
    println!(
        "| store | server runtime | A alone p50 / p99 µs | A beside B p50 / p99 µs | p99 ratio | per round: median [min–max] | A/A control per round | B refused | A refused |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    let stores: &[bool] = match options.store.as_str() {
        "sqlite" => &[false],
        "postgres" => &[true],
        _ => &[false, true],
    };
    for &postgres in stores {
        for multi_thread in [false, true] {
            measure(postgres, multi_thread, &options).await;
        }
    }
}
