//! The NATS JetStream sink, end to end: 10,000 events written to a real
//! tenantd process (PostgreSQL) that is SIGKILLed twice while it publishes
//! and restarted; the stream (read back with async-nats) holds each event
//! exactly once, by `Nats-Msg-Id`, in sequence order, and exactly the
//! outbox's events.

use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer};
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};
use tenantd::pb;
use tokio_stream::StreamExt;
use tonic::transport::{Channel, Endpoint};

use crate::config::values;
use crate::process::{free_port, tenantd, wait_until_serving};
use crate::support::db::{TestDatabase, postgres_available};
use crate::support::fixtures::create;
use crate::support::server::{ADMIN_TOKEN, Credentials};
use crate::support::{Backend, flags};

/// Events the workload writes at least.
const EVENTS: usize = 10_000;
/// Concurrent writers, one tenant each.
const WRITERS: usize = 8;
/// Successful writes after which the first and the second process die.
const KILL_AT: [usize; 2] = [3_000, 6_500];

fn nats_url() -> String {
    std::env::var("TENANTD_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

/// A JetStream context on the test NATS server, or `None` (skip) when it
/// is unreachable outside CI; under `CI=true` it must be reachable.
async fn nats() -> Option<jetstream::Context> {
    match async_nats::connect(nats_url()).await {
        // A slow machine may take a while to delete a stream of 10,000.
        Ok(client) => Some(
            jetstream::ContextBuilder::new()
                .timeout(Duration::from_secs(30))
                .build(client),
        ),
        Err(error) if std::env::var("CI").is_ok_and(|value| value == "true" || value == "1") => {
            panic!("NATS with JetStream is required under CI=true: {error}")
        }
        Err(error) => {
            eprintln!("skipping NATS tests, no server at TENANTD_TEST_NATS_URL: {error}");
            None
        }
    }
}

/// Where this test's events go: a stream and prefix of its own.
struct Sink {
    stream: String,
    prefix: String,
}

async fn start_process(database: &TestDatabase, sink: &Sink) -> (Child, Channel) {
    let port = free_port();
    let mut child = tenantd()
        .env("TENANTD_DATABASE_URL", &database.url)
        .env("TENANTD_MIGRATION_DATABASE_URL", &database.owner_url)
        .env("TENANTD_LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("TENANTD_ADMIN_TOKENS", format!("ops={ADMIN_TOKEN}"))
        .env("TENANTD_EVENTS_NATS_URL", nats_url())
        .env("TENANTD_EVENTS_NATS_STREAM", &sink.stream)
        .env("TENANTD_EVENTS_NATS_SUBJECT_PREFIX", &sink.prefix)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tenantd");
    wait_until_serving(port, &mut child).await;
    let channel = Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect to tenantd");
    (child, channel)
}

/// Each writer updates its tenant's configuration until `written` reaches
/// `until` or its call fails (the process died); answers when all stop.
async fn write(channel: &Channel, configs: &[String], written: &Arc<AtomicUsize>, until: usize) {
    let mut writers = Vec::new();
    for name in configs {
        let mut client = flags::configs(channel, ADMIN_TOKEN);
        let (name, written) = (name.clone(), written.clone());
        writers.push(tokio::spawn(async move {
            while written.load(Ordering::SeqCst) < until {
                let update = client
                    .update_config(pb::UpdateConfigRequest {
                        config: Some(pb::Config {
                            name: name.clone(),
                            values: Some(values(json!({ "n": written.load(Ordering::SeqCst) }))),
                            ..Default::default()
                        }),
                        comment: "nats sink test".to_owned(),
                        ..Default::default()
                    })
                    .await;
                if update.is_err() {
                    return;
                }
                written.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    for writer in writers {
        writer.await.expect("writer");
    }
}

/// Commits without waiting for the disk, for the servers' sessions of
/// this database: every audited write holds the event counter's row until
/// it commits, so the workload's speed is the commit latency's. A
/// PostgreSQL crash is not what this test is about.
async fn fast_commits(owner_url: &str) {
    let connection = Database::connect(owner_url)
        .await
        .expect("connect as owner");
    connection
        .execute_unprepared(
            "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET synchronous_commit = off', \
             current_database()); END $$",
        )
        .await
        .expect("asynchronous commits");
    let _ = connection.close().await;
}

/// The outbox's events, oldest first: (sequence, id, short type).
async fn outbox(owner_url: &str) -> Vec<(i64, String, String)> {
    let connection = Database::connect(owner_url)
        .await
        .expect("connect as owner");
    let rows = connection
        .query_all_raw(Statement::from_string(
            connection.get_database_backend(),
            "SELECT sequence, id::text AS id, type FROM events ORDER BY sequence",
        ))
        .await
        .expect("read the outbox");
    let _ = connection.close().await;
    rows.iter()
        .map(|row| {
            (
                row.try_get("", "sequence").expect("sequence"),
                row.try_get("", "id").expect("id"),
                row.try_get("", "type").expect("type"),
            )
        })
        .collect()
}

async fn stream_count(js: &jetstream::Context, name: &str) -> usize {
    match js.get_stream(name).await {
        Ok(mut stream) => stream.info().await.expect("stream info").state.messages as usize,
        Err(_) => 0,
    }
}

/// Every message of the stream, in stream order: (sequence attribute,
/// Nats-Msg-Id, subject).
async fn stream_contents(js: &jetstream::Context, name: &str) -> Vec<(i64, String, String)> {
    let stream = js.get_stream(name).await.expect("the stream exists");
    let count = stream_count(js, name).await;
    let reader = stream
        .create_consumer(consumer::pull::Config {
            ack_policy: consumer::AckPolicy::None,
            deliver_policy: consumer::DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .expect("a reader");
    let mut messages = reader.messages().await.expect("messages");
    let mut contents = Vec::with_capacity(count);
    while contents.len() < count {
        let message = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await
            .expect("the stream's next message in time")
            .expect("a message")
            .expect("a readable message");
        let id = message
            .headers
            .as_ref()
            .and_then(|headers| headers.get("Nats-Msg-Id"))
            .map(|value| value.as_str().to_owned())
            .expect("a Nats-Msg-Id");
        let body: Value = serde_json::from_slice(&message.payload).expect("CloudEvents JSON");
        assert_eq!(
            body["id"],
            Value::String(id.clone()),
            "Nats-Msg-Id is the event id"
        );
        assert_eq!(body["specversion"], "1.0");
        let sequence = body["sequence"]
            .as_str()
            .and_then(|text| text.parse().ok())
            .expect("a sequence attribute");
        contents.push((sequence, id, message.subject.to_string()));
    }
    contents
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_event_reaches_the_stream_once_in_order_across_two_sigkills() {
    if !postgres_available().await {
        return;
    }
    let Some(js) = nats().await else { return };
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let sink = Sink {
        stream: format!("TENANTD_TEST_{unique}"),
        prefix: format!("t{unique}.events"),
    };
    let database = TestDatabase::create(Backend::Postgres).await;
    fast_commits(&database.owner_url).await;
    let (mut child, channel) = start_process(&database, &sink).await;
    let mut tenants = pb::tenant_service_client::TenantServiceClient::with_interceptor(
        channel.clone(),
        Credentials::bearer(ADMIN_TOKEN),
    );
    let mut configs = Vec::new();
    for index in 0..WRITERS {
        let tenant = create(&mut tenants, &format!("nats{index}")).await;
        configs.push(format!("{}/config", tenant.name));
    }
    let started = Instant::now();
    let written = Arc::new(AtomicUsize::new(0));
    let mut channel = channel;
    for kill_at in KILL_AT {
        let killer = {
            let written = written.clone();
            async move {
                while written.load(Ordering::SeqCst) < kill_at {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
        };
        // SIGKILL while the writers write and the sink publishes.
        let ((), ()) = tokio::join!(write(&channel, &configs, &written, usize::MAX), async {
            killer.await;
            child.kill().expect("SIGKILL tenantd");
        });
        let _ = child.wait();
        let (outboxed, streamed) = (
            outbox(&database.owner_url).await.len(),
            stream_count(&js, &sink.stream).await,
        );
        assert!(
            streamed < outboxed,
            "the kill came while events were still unpublished ({streamed} of {outboxed})"
        );
        (child, channel) = start_process(&database, &sink).await;
    }
    write(&channel, &configs, &written, EVENTS).await;

    let expected = outbox(&database.owner_url).await;
    assert!(expected.len() >= EVENTS, "{} events", expected.len());
    let deadline = Instant::now() + Duration::from_secs(60);
    while stream_count(&js, &sink.stream).await < expected.len() {
        assert!(Instant::now() < deadline, "the sink did not catch up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let contents = stream_contents(&js, &sink.stream).await;
    let wanted: Vec<(i64, String, String)> = expected
        .into_iter()
        .map(|(sequence, id, short)| (sequence, id, format!("{}.{short}", sink.prefix)))
        .collect();
    assert_eq!(contents.len(), wanted.len(), "each event once");
    assert!(contents == wanted, "the stream holds the outbox, in order");
    eprintln!(
        "{} events through two SIGKILLs in {:?}",
        wanted.len(),
        started.elapsed()
    );

    child.kill().expect("stop tenantd");
    let _ = child.wait();
    js.delete_stream(&sink.stream)
        .await
        .expect("delete the stream");
    database.drop_database().await;
}
