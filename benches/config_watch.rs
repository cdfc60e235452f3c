//! Update-to-watch delay across replicas: two tenantd servers share one
//! PostgreSQL database; a watcher streams WatchConfig from the second while
//! UpdateConfig calls go to the first, and each update is timed from the
//! moment it is sent (and from the moment its answer arrives, i.e. after
//! commit) until the watcher receives it.
//!
//! Both servers run on the runtime flavour measured (`current_thread`, then
//! `multi_thread` with 2 workers); the client runs on its own runtime. The
//! updates are paced (`--pause-ms`) so the delay measured is the
//! propagation's, not a queue's.
//!
//! `cargo bench --bench config_watch` (`-- --help` for the options).

mod support;

use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::json;
use tenantd::pb;
use tenantd::pb::config_service_client::ConfigServiceClient;
use tenantd::pb::watch_config_response::Event;

use support::calls::create_tenant;
use support::stats::ms;
use support::{ADMIN_TOKEN, BenchDatabase, Running, authorized, percentile, runtime_name};
use tonic::Streaming;
use tonic::transport::Channel;

/// Command-line options.
#[derive(Debug, Parser)]
struct Options {
    /// A PostgreSQL superuser's URL; the bench makes its own database.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    admin_url: String,
    /// Updates per runtime flavour.
    #[arg(long, default_value_t = 300)]
    updates: usize,
    /// Pause between updates, in milliseconds.
    #[arg(long, default_value_t = 10)]
    pause_ms: u64,
    /// `cargo bench` passes `--bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

fn report(label: &str, mut delays: Vec<Duration>) {
    let count = delays.len();
    println!(
        "  {label:<22} p50 {:>6.2} ms   p99 {:>6.2} ms   max {:>6.2} ms   (n = {count})",
        ms(percentile(&mut delays, 0.5)),
        ms(percentile(&mut delays, 0.99)),
        ms(*delays.last().expect("measurements")),
    );
}

/// A tenant created through `first`, and a WatchConfig stream of it from
/// `second`, past its snapshot.
async fn watched_tenant(
    first: &Channel,
    second: Channel,
    slug: String,
) -> (pb::Tenant, Streaming<pb::WatchConfigResponse>) {
    let tenant = pb::Tenant {
        slug,
        display_name: "Watch bench".into(),
        ..Default::default()
    };
    let tenant = create_tenant(first, tenant).await;
    let mut stream = ConfigServiceClient::new(second)
        .watch_config(authorized(
            pb::WatchConfigRequest {
                parent: tenant.name.clone(),
                ..Default::default()
            },
            ADMIN_TOKEN,
        ))
        .await
        .expect("watch")
        .into_inner();
    stream.message().await.expect("snapshot").expect("snapshot");
    (tenant, stream)
}

/// Sends update `step` of `layer`; answers when it was sent and when its
/// answer arrived.
async fn update(
    updates: &mut ConfigServiceClient<Channel>,
    layer: &str,
    step: usize,
) -> (Instant, Instant) {
    let values = tenantd::rpc::convert::json_object(json!({"step": step, "feature": "on"}));
    let sent = Instant::now();
    updates
        .update_config(authorized(
            pb::UpdateConfigRequest {
                config: Some(pb::Config {
                    name: layer.to_owned(),
                    values,
                    ..Default::default()
                }),
                ..Default::default()
            },
            ADMIN_TOKEN,
        ))
        .await
        .expect("update");
    (sent, Instant::now())
}

async fn measure(database: &BenchDatabase, multi_thread: bool, options: &Options) {
    let first = Running::start(multi_thread, database.config());
    let second = Running::start(multi_thread, database.config());
    let (to_first, to_second) = (first.connect().await, second.connect().await);
    let slug = format!("watch-{}", if multi_thread { "multi" } else { "current" });
    let (tenant, mut stream) = watched_tenant(&to_first, to_second, slug).await;
    let mut updates = ConfigServiceClient::new(to_first);
    let layer = format!("{}/config", tenant.name);
    let (mut from_send, mut from_commit) = (Vec::new(), Vec::new());
    for step in 0..options.updates {
        let (sent, committed) = update(&mut updates, &layer, step).await;
        loop {
            let event = stream.message().await.expect("watch").expect("an event");
            if let Some(Event::ConfigChanged(config)) = event.event
                && config.version == step as i64 + 1
            {
                break;
            }
        }
        let seen = Instant::now();
        from_send.push(seen - sent);
        from_commit.push(seen.saturating_duration_since(committed));
        tokio::time::sleep(Duration::from_millis(options.pause_ms)).await;
    }
    println!("servers on {}:", runtime_name(multi_thread));
    report("update sent → watched", from_send);
    report("update answered → watched", from_commit);
    drop(stream);
    // Stopping joins the server threads: off this runtime, which must keep
    // driving the client's side of the connections while they close.
    tokio::task::spawn_blocking(move || drop((first, second)))
        .await
        .expect("servers stop");
}

fn main() {
    let options = Options::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    runtime.block_on(async {
        let database = BenchDatabase::create(&options.admin_url, "tenantd_bench_watch").await;
        println!(
            "WatchConfig update-to-watch delay across two replicas sharing PostgreSQL, \
             {} updates each, {} ms apart",
            options.updates, options.pause_ms
        );
        for multi_thread in [false, true] {
            measure(&database, multi_thread, &options).await;
        }
        database.drop_database(&options.admin_url).await;
    });
}
