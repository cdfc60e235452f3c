//! UsageService ingestion on PostgreSQL: events per second acknowledged
//! durable over StreamUsage, against the ceiling of a plain multi-row
//! INSERT of the same rows measured in the same run, and the process's
//! resident memory along the way.
//!
//! The bench makes a fresh database on the server at `--admin-url`, starts
//! the real server (`server::run`) in this process on a multi-thread
//! runtime (`--current-thread` for the other flavour), connecting as a login role that is neither superuser nor owner
//! (row-level security applies, as in production), creates `--tenants`
//! tenants and `--metrics` SUM metrics, then streams `--events` events in
//! batches of `--batch` over `--streams` concurrent streams, round-robin
//! over tenants and metrics. A batch counts once its ack arrived, which the
//! server sends after the commit. The aggregation job runs meanwhile, as in
//! production; the time it needs to catch up afterwards is reported.
//!
//! The ceiling inserts the same rows (same columns, same batch size, same
//! concurrency, one transaction per batch) into a copy of `usage_events`
//! with its indexes, as the owner, with no gRPC, validation or dedupe.
//! Events are generated on the fly, so the client's memory stays flat and
//! the RSS reported is the server's growth plus a constant.
//!
//! `--no-aggregation` and `--no-rls` exist only to split the cost in this
//! bench: they turn off the aggregation job and row-level security on
//! `usage_events`, which production never does.
//!
//! Run: `cargo bench --bench usage [-- --events 10000000]`; `-- --help`
//! lists the knobs.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use clap::Parser;
use prost_types::Timestamp;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, TransactionTrait};
use tenantd::pb;
use tenantd::pb::usage_service_client::UsageServiceClient;
use tonic::transport::Channel;

use support::calls::create_tenant;
use support::cpu::rss_mib;
use support::server::Here;
use support::{ADMIN_TOKEN, BenchDatabase, SERVICE_TOKEN, authorized};

/// Command-line settings.
#[derive(Debug, Parser)]
#[command(about = "StreamUsage ingestion on PostgreSQL against a plain INSERT ceiling")]
struct Options {
    /// A superuser URL of the PostgreSQL server; a fresh database is made.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    admin_url: String,
    /// Events to stream (and to insert for the ceiling).
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    /// Events per batch.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Tenants the events are spread over.
    #[arg(long, default_value_t = 1000)]
    tenants: usize,
    /// Metrics the events are spread over.
    #[arg(long, default_value_t = 10)]
    metrics: usize,
    /// Concurrent streams (and concurrent INSERT connections).
    #[arg(long, default_value_t = 4)]
    streams: usize,
    /// Run the server and the client on a current-thread runtime instead
    /// of a multi-thread one with 2 workers.
    #[arg(long)]
    current_thread: bool,
    /// Bench-only comparison: do not run the aggregation job while
    /// streaming (the server is configured with a one-day interval).
    #[arg(long)]
    no_aggregation: bool,
    /// Bench-only comparison, never a production setting: disable
    /// row-level security on `usage_events` before streaming.
    #[arg(long)]
    no_rls: bool,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

async fn prepare(channel: &Channel, options: &Options) -> Vec<(String, String)> {
    let mut tenants = Vec::new();
    for index in 0..options.tenants {
        let tenant = pb::Tenant {
            slug: format!("bench{index}"),
            ..Default::default()
        };
        let tenant = create_tenant(channel, tenant).await;
        tenants.push((tenant.name, tenant.id));
    }
    let mut usage = UsageServiceClient::new(channel.clone());
    for index in 0..options.metrics {
        let request = pb::CreateMetricRequest {
            metric_id: format!("m{index}"),
            metric: Some(pb::Metric {
                unit: "1".into(),
                aggregation: pb::MetricAggregation::Sum.into(),
                ..Default::default()
            }),
            request_id: String::new(),
        };
        usage
            .create_metric(authorized(request, ADMIN_TOKEN))
            .await
            .expect("create metric");
    }
    tenants
}

/// How the streams share the work: the next batch to send, the events
/// acked so far, and what the events are made of.
struct Work {
    next: AtomicUsize,
    acked: AtomicUsize,
    names: Vec<String>,
    at: Timestamp,
    batches: usize,
    batch: usize,
    events: usize,
    metrics: usize,
}

impl Work {
    /// Batch `index` of the events, as a stream request.
    fn request(&self, index: usize) -> pb::StreamUsageRequest {
        let range = index * self.batch..((index + 1) * self.batch).min(self.events);
        pb::StreamUsageRequest {
            sequence: index as i64 + 1,
            events: range
                .map(|index| pb::UsageEvent {
                    event_id: format!("e{index}"),
                    tenant: self.names[index % self.names.len()].clone(),
                    metric: format!("m{}", index % self.metrics),
                    quantity: (index % 13) as f64,
                    occurred_time: Some(self.at),
                    ..Default::default()
                })
                .collect(),
        }
    }
}

/// One stream: sends batches while any are left, and counts the acks.
async fn stream_batches(channel: Channel, work: Arc<Work>) {
    let (sender, receiver) = tokio::sync::mpsc::channel::<pb::StreamUsageRequest>(4);
    let mut client = UsageServiceClient::new(channel);
    let request = authorized(
        tokio_stream::wrappers::ReceiverStream::new(receiver),
        SERVICE_TOKEN,
    );
    let producer = {
        let work = work.clone();
        tokio::spawn(async move {
            loop {
                let index = work.next.fetch_add(1, Ordering::Relaxed);
                if index >= work.batches {
                    break;
                }
                if sender.send(work.request(index)).await.is_err() {
                    break;
                }
            }
        })
    };
    let mut answers = client
        .stream_usage(request)
        .await
        .expect("open stream")
        .into_inner();
    while let Some(ack) = answers.message().await.expect("ack") {
        assert_eq!(ack.rejected_count, 0, "{:?}", ack.rejected_events.first());
        work.acked
            .fetch_add(ack.accepted_count as usize, Ordering::Relaxed);
    }
    producer.await.expect("producer");
}

/// RSS samples every two seconds by events acked, until all are.
async fn sample_rss(work: Arc<Work>) -> Vec<(usize, f64)> {
    let mut samples = Vec::new();
    while work.acked.load(Ordering::Relaxed) < work.events {
        samples.push((work.acked.load(Ordering::Relaxed), rss_mib()));
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    samples
}

/// Streams every event; answers the seconds it took and the RSS samples.
async fn ingest(
    channel: &Channel,
    names: Vec<String>,
    options: &Options,
) -> (f64, Vec<(usize, f64)>) {
    let work = Arc::new(Work {
        next: AtomicUsize::new(0),
        acked: AtomicUsize::new(0),
        names,
        at: Timestamp {
            seconds: (Utc::now() - TimeDelta::seconds(5)).timestamp(),
            nanos: 0,
        },
        batches: options.events.div_ceil(options.batch),
        batch: options.batch,
        events: options.events,
        metrics: options.metrics,
    });
    let started = Instant::now();
    let streams: Vec<_> = (0..options.streams)
        .map(|_| tokio::spawn(stream_batches(channel.clone(), work.clone())))
        .collect();
    let sampler = tokio::spawn(sample_rss(work.clone()));
    for stream in streams {
        stream.await.expect("stream");
    }
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(
        work.acked.load(Ordering::Relaxed),
        options.events,
        "every event accepted once"
    );
    let mut samples = sampler.await.expect("sampler");
    samples.push((options.events, rss_mib()));
    (seconds, samples)
}

/// Inserts the same rows with plain multi-row INSERTs; answers seconds.
async fn ceiling(owner: &DatabaseConnection, ids: Arc<Vec<String>>, options: &Options) -> f64 {
    owner
        .execute_unprepared("CREATE TABLE ceiling_events (LIKE usage_events INCLUDING ALL)")
        .await
        .expect("copy the table");
    let batches = options.events.div_ceil(options.batch);
    let next = Arc::new(AtomicUsize::new(0));
    let day = (Utc::now() - TimeDelta::seconds(5))
        .format("%Y-%m-%d")
        .to_string();
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..options.streams {
        let (owner, ids, next, day) = (owner.clone(), ids.clone(), next.clone(), day.clone());
        let (batch, events, metrics) = (options.batch, options.events, options.metrics);
        workers.push(tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= batches {
                    break;
                }
                let rows: Vec<String> = (index * batch..((index + 1) * batch).min(events))
                    .map(|event_index| {
                        format!(
                            "('{}', 'e{event_index}', 'm{}', {}, now(), '{day}', '{{}}', NULL, now())",
                            ids[event_index % ids.len()],
                            event_index % metrics,
                            event_index % 13
                        )
                    })
                    .collect();
                let txn = owner.begin().await.expect("begin");
                txn.execute_unprepared(&format!(
                    "INSERT INTO ceiling_events (tenant_id, event_id, metric, quantity, \
                     occurred_time, day, dimensions, unique_value, ingest_time) VALUES {}",
                    rows.join(",")
                ))
                .await
                .expect("insert");
                txn.commit().await.expect("commit");
            }
        }));
    }
    for worker in workers {
        worker.await.expect("worker");
    }
    started.elapsed().as_secs_f64()
}

/// Waits until the aggregation job has folded every acked event; answers
/// the seconds that took.
async fn catch_up(owner_url: &str) -> f64 {
    let acked = Instant::now();
    let store = tenantd::store::Store::connect(owner_url, &Default::default())
        .await
        .expect("store");
    loop {
        let progress = store
            .usage_aggregation_progress(tenantd::store::scope::Scope::Platform)
            .await
            .expect("progress");
        let acked_at = Utc::now() - TimeDelta::milliseconds(acked.elapsed().as_millis() as i64);
        if progress
            .aggregated_through
            .is_some_and(|through| through > acked_at)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = store.close().await;
    acked.elapsed().as_secs_f64()
}

fn main() {
    let options = Options::parse();
    let runtime = if options.current_thread {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    }
    .expect("runtime");
    runtime.block_on(run(options));
}

/// What a run measured: StreamUsage's and the ceiling's seconds, the
/// aggregation's catch-up (if it ran), and RSS by events acked.
struct Measured {
    stream_seconds: f64,
    ceiling_seconds: f64,
    catch_up: Option<f64>,
    samples: Vec<(usize, f64)>,
}

fn print_results(options: &Options, measured: Measured) {
    let (stream_seconds, ceiling_seconds) = (measured.stream_seconds, measured.ceiling_seconds);
    let stream_rate = options.events as f64 / stream_seconds;
    let ceiling_rate = options.events as f64 / ceiling_seconds;
    println!("StreamUsage:        {stream_rate:>10.0} events/s ({stream_seconds:.1} s)");
    println!("plain INSERT:       {ceiling_rate:>10.0} events/s ({ceiling_seconds:.1} s)");
    println!(
        "ratio:              {:>10.2} of the ceiling",
        stream_rate / ceiling_rate
    );
    match measured.catch_up {
        Some(seconds) => println!("aggregation caught up {seconds:.1} s after the last ack"),
        None => println!("aggregation was off"),
    }
    println!("RSS (MiB) by events acked:");
    for (events, rss) in measured.samples {
        println!("  {events:>10}  {rss:>7.1}");
    }
}

async fn run(options: Options) {
    let database = BenchDatabase::create(&options.admin_url, "tenantd_bench").await;
    let owner_url = database.owner_url.clone();
    let mut config = database.config();
    if options.no_aggregation {
        // The job's first tick runs at once, on an empty table.
        config.usage_aggregation_interval = Duration::from_secs(86_400);
    }
    let owner = Database::connect(&owner_url)
        .await
        .expect("connect as owner");
    if options.no_rls {
        owner
            .execute_unprepared("ALTER TABLE usage_events DISABLE ROW LEVEL SECURITY")
            .await
            .expect("disable row-level security");
    }
    let server = Here::start(config).await;
    let tenants = prepare(&server.channel, &options).await;
    let names = tenants.iter().map(|(name, _)| name.clone()).collect();
    let ids = Arc::new(tenants.iter().map(|(_, id)| id.clone()).collect::<Vec<_>>());
    println!(
        "{} events, batches of {}, {} tenants, {} metrics, {} streams; RSS before: {:.0} MiB",
        options.events,
        options.batch,
        options.tenants,
        options.metrics,
        options.streams,
        rss_mib()
    );
    let (stream_seconds, samples) = ingest(&server.channel, names, &options).await;
    let catch_up = if options.no_aggregation {
        None
    } else {
        Some(catch_up(&owner_url).await)
    };
    let ceiling_seconds = ceiling(&owner, ids, &options).await;
    let measured = Measured {
        stream_seconds,
        ceiling_seconds,
        catch_up,
        samples,
    };
    print_results(&options, measured);
    server.stop().await;
    let _ = owner.close().await;
    database.drop_database(&options.admin_url).await;
}
