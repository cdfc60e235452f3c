//! What the transactional outbox costs the writes that carry it:
//! CreateTenant and UpdateConfig on PostgreSQL, each next to Health/Check
//! on the same server in alternating blocks, as calls per second and
//! server CPU per call.
//!
//! Every audited change writes its event in its own transaction, under the
//! one row of the event log's counter, which each writer holds from its
//! event's insert until it commits: writers of the whole fleet serialise
//! on that row for the end of their transaction. This bench measures the
//! writes with that cost in them; the same file built on the code before
//! the outbox (which has neither the counter nor the event) measures them
//! without, and BENCHMARKS.md compares the two runs' ratios to
//! Health/Check, which the outbox does not touch.
//!
//! Each writer task renames its own tenant (UpdateConfig) or creates new
//! POOL tenants (CreateTenant), so no two writers contend on a row of
//! their own: what they share is the database and, with the outbox, the
//! counter.
//!
//! `cargo bench --bench events` (`-- --help` for the options).

mod support;

use std::sync::Arc;

use clap::Parser;
use serde_json::json;
use tenantd::pb;
use tenantd::pb::config_service_client::ConfigServiceClient;
use tenantd::pb::tenant_service_client::TenantServiceClient;
use tonic::transport::Channel;

use support::calls::{create_tenant, health_check};
use support::stats::median;
use support::{
    ADMIN_TOKEN, BenchDatabase, LoadOptions, Running, authorized, load_block, runtime_name,
};

/// Command-line options.
#[derive(Debug, Parser)]
struct Options {
    /// A PostgreSQL superuser's URL; the bench makes its own database.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    admin_url: String,
    #[command(flatten)]
    load: LoadOptions,
    /// `cargo bench` passes `--bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// A write measured against Health/Check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Write {
    CreateTenant,
    UpdateConfig,
}

impl Write {
    fn label(self) -> &'static str {
        match self {
            Write::CreateTenant => "CreateTenant",
            Write::UpdateConfig => "UpdateConfig",
        }
    }
}

async fn create_one(channel: Channel, number: u64, run: &str) {
    let request = pb::CreateTenantRequest {
        tenant: Some(pb::Tenant {
            slug: format!("bench-{run}-{number}"),
            display_name: "Outbox bench".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    TenantServiceClient::new(channel)
        .create_tenant(authorized(request, ADMIN_TOKEN))
        .await
        .expect("create tenant");
}

async fn update_one(channel: Channel, layer: String, number: u64) {
    let values = tenantd::rpc::convert::json_object(json!({"step": number, "feature": "on"}));
    let request = pb::UpdateConfigRequest {
        config: Some(pb::Config {
            name: layer,
            values,
            ..Default::default()
        }),
        ..Default::default()
    };
    let answer = ConfigServiceClient::new(channel)
        .update_config(authorized(request, ADMIN_TOKEN))
        .await;
    match answer {
        Ok(_) => {}
        // Two calls picked the same layer at once: counted, and shown.
        Err(status) if status.code() == tonic::Code::Aborted => {
            CONFLICTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Err(status) => panic!("update config: {status:?}"),
    }
}

/// UpdateConfig calls refused because another call changed the same layer
/// at the same moment (the layers are spread over 8 per writer to make
/// that rare); the table shows how many.
static CONFLICTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Medians over the blocks: (rate, server CPU µs per call).
fn medians(blocks: &[support::Block]) -> (f64, f64) {
    let mut rates: Vec<f64> = blocks.iter().map(|block| block.rate).collect();
    let mut cpu: Vec<f64> = blocks.iter().map(|block| block.server_cpu).collect();
    (median(&mut rates), median(&mut cpu))
}

async fn measure(channel: &Channel, write: Write, flavour: &str, options: &Options) {
    let load = &options.load;
    // UpdateConfig: one tenant per writer task, its layer chosen by the
    // call's number modulo the writers.
    let mut layers = Vec::new();
    if write == Write::UpdateConfig {
        for writer in 0..load.concurrency * 8 {
            let tenant = create_tenant(
                channel,
                pb::Tenant {
                    slug: format!("layer-{}-{writer}", flavour.replace('_', "-")),
                    ..Default::default()
                },
            )
            .await;
            layers.push(format!("{}/config", tenant.name));
        }
    }
    let layers = Arc::new(layers);
    let (mut health, mut measured) = (Vec::new(), Vec::new());
    for block in 0..load.blocks {
        let health_channel = channel.clone();
        health.push(
            load_block(load, move |_| {
                let channel = health_channel.clone();
                async move { health_check(&channel).await }
            })
            .await,
        );
        let (write_channel, layers) = (channel.clone(), Arc::clone(&layers));
        let run = format!("{}-{block}", flavour.replace('_', "-"));
        let writers = layers.len().max(1) as u64;
        measured.push(
            load_block(load, move |number| {
                let (channel, layers, run) =
                    (write_channel.clone(), Arc::clone(&layers), run.clone());
                async move {
                    match write {
                        Write::CreateTenant => create_one(channel, number, &run).await,
                        Write::UpdateConfig => {
                            let layer = layers[(number % writers) as usize].clone();
                            update_one(channel, layer, number).await;
                        }
                    }
                }
            })
            .await,
        );
    }
    let (health_rate, health_cpu) = medians(&health);
    let (rate, cpu) = medians(&measured);
    let conflicts = CONFLICTS.swap(0, std::sync::atomic::Ordering::Relaxed);
    println!(
        "| {flavour} | {} | {health_rate:.0} | {rate:.0} | **{:.4}** | {health_cpu:.0} | {cpu:.0} | {conflicts} |",
        write.label(),
        rate / health_rate
    );
}

fn main() {
    let options = Options::parse();
    support::discard_traces("warn");
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("client runtime");
    println!(
        "{} writers, {} blocks of {} ms per side\n",
        options.load.concurrency, options.load.blocks, options.load.block_ms
    );
    println!(
        "| server runtime | write | Health/Check calls/s | write calls/s | ratio | Health/Check server CPU µs/call | write server CPU µs/call | conflicts |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for multi_thread in [false, true] {
        for write in [Write::CreateTenant, Write::UpdateConfig] {
            let database = client.block_on(BenchDatabase::create(
                &options.admin_url,
                "tenantd_bench_events",
            ));
            let server = Running::start(multi_thread, database.config());
            client.block_on(async {
                let channel = server.connect().await;
                measure(&channel, write, runtime_name(multi_thread), &options).await;
            });
            drop(server);
            client.block_on(database.drop_database(&options.admin_url));
        }
    }
}
