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

use std::time::{Duration, Instant};

use clap::Parser;
use support::{ADMIN_TOKEN, BenchDatabase, Running, authorized, percentile, with_tokens};
use tenantd::pb;
use tenantd::pb::tenant_service_client::TenantServiceClient;
use tenantd::settings::BudgetSettings;
use tenantd::settings::Config;
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

const LIST_AUDIT_EVENTS: &str = "/tenantd.v1.TenantService/ListAuditEvents";

/// Encodes requests as usual but keeps each answer as its bytes: the load
/// generator shares the server's cores, and decoding 50 audit events a
/// call (their before and after documents included) would be client work
/// counted against the server.
#[derive(Clone, Copy)]
struct UndecodedAnswers;

impl tonic::codec::Codec for UndecodedAnswers {
    type Encode = pb::ListAuditEventsRequest;
    type Decode = usize;
    type Encoder = Self;
    type Decoder = Self;

    fn encoder(&mut self) -> Self {
        *self
    }

    fn decoder(&mut self) -> Self {
        *self
    }
}

impl tonic::codec::Encoder for UndecodedAnswers {
    type Item = pb::ListAuditEventsRequest;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: Self::Item,
        buf: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        prost::Message::encode(&item, buf)
            .map_err(|error| tonic::Status::internal(error.to_string()))
    }
}

impl tonic::codec::Decoder for UndecodedAnswers {
    type Item = usize;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        buf: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<usize>, tonic::Status> {
        let length = prost::bytes::Buf::remaining(buf);
        prost::bytes::Buf::advance(buf, length);
        Ok(Some(length))
    }
}

/// What one tenant's paced load saw.
#[derive(Default)]
struct Seen {
    /// Latencies of answered calls, µs.
    ok: Vec<u64>,
    /// Calls refused by the bulkhead.
    refused: usize,
}

impl Seen {
    fn add(&mut self, other: Seen) {
        self.ok.extend(other.ok);
        self.refused += other.refused;
    }
}

/// Sends `rate` listings a second for `length`, each on its own schedule.
async fn paced(
    channel: Channel,
    tenant: String,
    key: String,
    rate: u32,
    page_size: i32,
    length: Duration,
) -> Seen {
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let end = Instant::now() + length;
    let mut calls = Vec::new();
    while Instant::now() < end {
        ticks.tick().await;
        let (channel, tenant, key) = (channel.clone(), tenant.clone(), key.clone());
        calls.push(tokio::spawn(async move {
            let started = Instant::now();
            let request = authorized(
                pb::ListAuditEventsRequest {
                    parent: tenant,
                    page_size,
                    ..Default::default()
                },
                &key,
            );
            let mut grpc = tonic::client::Grpc::new(channel);
            let answer = match grpc.ready().await {
                Ok(()) => {
                    grpc.unary(
                        request,
                        http::uri::PathAndQuery::from_static(LIST_AUDIT_EVENTS),
                        UndecodedAnswers,
                    )
                    .await
                }
                Err(error) => Err(tonic::Status::unavailable(error.to_string())),
            };
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

/// The p99 of `over` over the p99 of `base`.
fn p99_ratio(over: &mut Seen, base: &mut Seen) -> f64 {
    percentile(&mut over.ok, 0.99) as f64 / percentile(&mut base.ok, 0.99).max(1) as f64
}

/// Per-round ratios as `median [min–max]`.
fn spread(mut ratios: Vec<f64>) -> String {
    ratios.sort_by(f64::total_cmp);
    format!(
        "{:.2} [{:.2}–{:.2}]",
        ratios[ratios.len() / 2],
        ratios[0],
        ratios[ratios.len() - 1]
    )
}

/// A fresh store for one measurement: an SQLite file, or a PostgreSQL
/// database.
enum Store {
    Sqlite(std::path::PathBuf),
    Postgres(BenchDatabase),
}

impl Store {
    async fn create(postgres: bool, options: &Options) -> Self {
        if postgres {
            return Store::Postgres(
                BenchDatabase::create(&options.admin_url, "tenantd_bench_noisy").await,
            );
        }
        Store::Sqlite(
            std::env::temp_dir().join(format!("tenantd-bench-noisy-{}.db", uuid::Uuid::new_v4())),
        )
    }

    fn name(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "SQLite",
            Store::Postgres(_) => "PostgreSQL",
        }
    }

    fn config(&self) -> Config {
        match self {
            Store::Sqlite(path) => with_tokens(Config::for_database(format!(
                "sqlite://{}?mode=rwc",
                path.display()
            ))),
            Store::Postgres(database) => database.config(),
        }
    }

    async fn remove(self, options: &Options) {
        match self {
            Store::Sqlite(path) => {
                let _ = std::fs::remove_file(&path);
            }
            Store::Postgres(database) => database.drop_database(&options.admin_url).await,
        }
    }
}

async fn measure(postgres: bool, multi_thread: bool, options: &Options) {
    let store = Store::create(postgres, options).await;
    let mut config = store.config();
    config.tenant_budget = BudgetSettings {
        max_concurrent_calls: options.budget_concurrency,
        rate_per_second: options.budget_rate,
    };
    let server = Running::start(multi_thread, config);
    let channel = server.connect().await;
    let (a, a_key) = tenant_with_history(&channel, "tenant-a").await;
    let (b, b_key) = tenant_with_history(&channel, "tenant-b").await;
    let length = Duration::from_secs(options.seconds);
    // Warm-up, then rounds of A alone and A with B flooding, so that drift
    // on a noisy machine lands on both phases alike.
    paced(
        channel.clone(),
        a.clone(),
        a_key.clone(),
        options.rate,
        options.page_size,
        Duration::from_secs(2),
    )
    .await;
    // B is another client, on its own connection, as another service
    // would be: sharing A's would put B's answers ahead of A's on the wire.
    let b_channel = server.connect().await;
    let (mut alone, mut beside, mut flood) = (Seen::default(), Seen::default(), Seen::default());
    let (mut ratios, mut control) = (Vec::new(), Vec::new());
    let a_load = || {
        paced(
            channel.clone(),
            a.clone(),
            a_key.clone(),
            options.rate,
            options.page_size,
            length,
        )
    };
    for _ in 0..options.rounds {
        let mut quiet = a_load().await;
        let mut again = a_load().await;
        control.push(p99_ratio(&mut again, &mut quiet));
        alone.refused += again.refused;
        let flooding = tokio::spawn(paced(
            b_channel.clone(),
            b.clone(),
            b_key.clone(),
            options.rate * 10,
            options.page_size,
            length,
        ));
        let mut crowded = a_load().await;
        ratios.push(p99_ratio(&mut crowded, &mut quiet));
        alone.add(quiet);
        beside.add(crowded);
        flood.add(flooding.await.expect("flood"));
    }
    let (alone_p99, beside_p99) = (
        percentile(&mut alone.ok, 0.99),
        percentile(&mut beside.ok, 0.99),
    );
    println!(
        "| {} | {} | {} / {} | {} / {} | {:.2} | {} | {} | {} of {} ({:.0} %) | {} |",
        store.name(),
        if multi_thread {
            "multi_thread"
        } else {
            "current_thread"
        },
        percentile(&mut alone.ok, 0.5),
        alone_p99,
        percentile(&mut beside.ok, 0.5),
        beside_p99,
        beside_p99 as f64 / alone_p99.max(1) as f64,
        spread(ratios),
        spread(control),
        flood.refused,
        flood.refused + flood.ok.len(),
        100.0 * flood.refused as f64 / (flood.refused + flood.ok.len()).max(1) as f64,
        alone.refused + beside.refused,
    );
    drop(server);
    store.remove(options).await;
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
