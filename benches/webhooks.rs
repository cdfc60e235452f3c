//! Webhook delivery throughput to a local receiver: a burst of
//! `UpdateTenant` calls over several tenants (one subject each) makes
//! `tenant.updated` events; each endpoint posts them, signed, to a receiver
//! in this process that answers 204 at once. Reported per store: the rate
//! events were written, the rate they were delivered (first delivery of
//! the first event to the last of the last, per endpoint and in total), and
//! delivered ÷ written, both measured in the same run.
//!
//! The server runs on a `multi_thread` runtime of its own with the default
//! delivery settings but a 50 ms poll; the receiver and the load generator
//! share the bench's runtime.
//!
//! `cargo bench --bench webhooks` (`-- --help` for the options).

mod support;

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tenantd::pb;
use tenantd::pb::tenant_service_client::TenantServiceClient;
use tenantd::pb::webhook_service_client::WebhookServiceClient;
use tokio::net::TcpListener;
use tonic::transport::Channel;

use support::calls::create_tenant;
use support::{ADMIN_TOKEN, BenchStore, Running, authorized};

/// Command-line options.
#[derive(Debug, Parser)]
struct Options {
    /// A PostgreSQL superuser's URL; the bench makes its own database
    /// (skipped when none answers).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    admin_url: String,
    /// Events per run.
    #[arg(long, default_value_t = 2000)]
    events: usize,
    /// Tenants the events are spread over (one subject each).
    #[arg(long, default_value_t = 20)]
    tenants: usize,
    /// Endpoint counts to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,4")]
    endpoints: Vec<usize>,
    /// `cargo bench` passes `--bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// What the receiver saw: each delivery's path and time.
#[derive(Default)]
struct Seen {
    /// (path, webhook-id, when).
    deliveries: Vec<(String, String, Instant)>,
}

/// Starts the receiver on 127.0.0.1; answers its port.
async fn receiver(seen: Arc<Mutex<Seen>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
                    let seen = seen.clone();
                    async move {
                        let path = request.uri().path().to_owned();
                        let id = request
                            .headers()
                            .get("webhook-id")
                            .and_then(|value| value.to_str().ok())
                            .unwrap_or_default()
                            .to_owned();
                        let _ = request.into_body().collect().await;
                        seen.lock()
                            .expect("seen")
                            .deliveries
                            .push((path, id, Instant::now()));
                        let mut answer = http::Response::new(Full::new(Bytes::new()));
                        *answer.status_mut() = http::StatusCode::NO_CONTENT;
                        Ok::<_, Infallible>(answer)
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    port
}

async fn create_endpoint(channel: &Channel, url: String) {
    let request = pb::CreateWebhookEndpointRequest {
        parent: String::new(),
        webhook_endpoint: Some(pb::WebhookEndpoint {
            url,
            event_types: vec!["tenant.updated".to_owned()],
            ..Default::default()
        }),
    };
    WebhookServiceClient::new(channel.clone())
        .create_webhook_endpoint(authorized(request, ADMIN_TOKEN))
        .await
        .expect("create endpoint");
}

/// Writes `events` updates over `names`, 8 at a time; answers the rate.
async fn write_events(channel: &Channel, names: &[String], events: usize) -> f64 {
    let started = Instant::now();
    let per_writer = events.div_ceil(8);
    let writers: Vec<_> = (0..8)
        .map(|writer| {
            let (channel, names) = (channel.clone(), names.to_vec());
            tokio::spawn(async move {
                let mut client = TenantServiceClient::new(channel);
                for round in 0..per_writer {
                    let index = writer * per_writer + round;
                    if index >= events {
                        break;
                    }
                    let request = pb::UpdateTenantRequest {
                        tenant: Some(pb::Tenant {
                            name: names[index % names.len()].clone(),
                            display_name: format!("round {index}"),
                            ..Default::default()
                        }),
                        update_mask: Some(prost_types::FieldMask {
                            paths: vec!["display_name".to_owned()],
                        }),
                    };
                    client
                        .update_tenant(authorized(request, ADMIN_TOKEN))
                        .await
                        .expect("update tenant");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer");
    }
    events as f64 / started.elapsed().as_secs_f64()
}

async fn run(store: &BenchStore, options: &Options, endpoints: usize) {
    let mut config = store.config();
    config.webhooks.policy.allowed = vec!["127.0.0.1/32".parse().expect("cidr")];
    config.webhooks.poll_interval = Duration::from_millis(50);
    let server = Running::start(true, config);
    let channel = server.connect().await;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let port = receiver(seen.clone()).await;
    let mut names = Vec::new();
    for index in 0..options.tenants {
        let tenant = pb::Tenant {
            slug: format!("hooks-{endpoints}-{index}"),
            ..Default::default()
        };
        names.push(create_tenant(&channel, tenant).await.name);
    }
    for endpoint in 0..endpoints {
        create_endpoint(&channel, format!("http://127.0.0.1:{port}/e{endpoint}")).await;
    }
    let written = write_events(&channel, &names, options.events).await;
    let wanted = options.events * endpoints;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let unique: HashSet<(String, String)> = seen
            .lock()
            .expect("seen")
            .deliveries
            .iter()
            .map(|(path, id, _)| (path.clone(), id.clone()))
            .collect();
        if unique.len() >= wanted {
            break;
        }
        assert!(Instant::now() < deadline, "deliveries did not finish");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seen = seen.lock().expect("seen");
    let first = seen
        .deliveries
        .iter()
        .map(|(_, _, at)| *at)
        .min()
        .expect("a delivery");
    let last = seen
        .deliveries
        .iter()
        .map(|(_, _, at)| *at)
        .max()
        .expect("a delivery");
    let span = last.duration_since(first).as_secs_f64().max(f64::EPSILON);
    let delivered = seen.deliveries.len() as f64 / span;
    let per_endpoint = delivered / endpoints as f64;
    println!(
        "  {:<10} {endpoints} endpoint(s): written {written:>7.0} events/s   delivered {delivered:>7.0}/s ({per_endpoint:>6.0}/s per endpoint)   delivered per endpoint ÷ written {:.2}   ({} deliveries, {} repeats)",
        store.name(),
        per_endpoint / written,
        seen.deliveries.len(),
        seen.deliveries.len() - wanted,
    );
}

#[tokio::main]
async fn main() {
    let options = Options::parse();
    println!(
        "webhook delivery: {} events over {} subjects, receiver answering 204",
        options.events, options.tenants
    );
    let postgres = sea_orm::Database::connect(&options.admin_url).await.is_ok();
    for on_postgres in [false, true] {
        if on_postgres && !postgres {
            println!("  PostgreSQL: skipped, nothing answers at --admin-url");
            continue;
        }
        for &endpoints in &options.endpoints {
            let store = BenchStore::create(on_postgres, &options.admin_url, "webhooks").await;
            run(&store, &options, endpoints).await;
            store.remove(&options.admin_url).await;
        }
    }
}
