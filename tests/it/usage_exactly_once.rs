//! Exactly once, end to end: 100,000 distinct events streamed to a real
//! tenantd process that is SIGKILLed mid-stream and restarted, or to a
//! server whose PostgreSQL connections are cut mid-batch; the reporter
//! re-sends what was not acked and some that was, and the daily rollups
//! (once aggregation caught up) equal the sums of the 100,000 events.

use std::process::{Child, Stdio};

use sea_orm::{ConnectionTrait, Database};
use tonic::transport::{Channel, Endpoint};

use crate::process::{free_port, tenantd, wait_until_serving};
use crate::support::db::TestDatabase;
use crate::support::server::{ADMIN_TOKEN, SERVICE_TOKEN};
use crate::support::usage::wait_for_aggregation;
use crate::support::{Backend, TestServer};
use crate::usage_delivery::{EVENTS, deliver_rest, prepare, rollups, send};

/// Batches acked before the failure is caused.
const ACKED_BEFORE_FAILURE: usize = 30;

/// Starts `tenantd serve` on `database`; answers the child and a channel.
async fn start_process(database: &TestDatabase) -> (Child, Channel) {
    let port = free_port();
    let mut child = tenantd()
        .env("TENANTD_DATABASE_URL", &database.url)
        .env("TENANTD_MIGRATION_DATABASE_URL", &database.owner_url)
        .env("TENANTD_LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("TENANTD_ADMIN_TOKENS", format!("ops={ADMIN_TOKEN}"))
        .env("TENANTD_SERVICE_TOKENS", format!("meter={SERVICE_TOKEN}"))
        .env("TENANTD_USAGE_AGGREGATION_INTERVAL_MS", "50")
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

async fn survives_a_sigkill_mid_stream(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let (mut child, channel) = start_process(&database).await;
    let workload = prepare(&channel).await;

    let first = send(&channel, workload.batches.clone(), |acks| {
        if acks == ACKED_BEFORE_FAILURE {
            // Child::kill sends SIGKILL: no shutdown, no flush.
            child.kill().expect("SIGKILL tenantd");
        }
    })
    .await;
    let _ = child.wait();
    assert!(
        first.len() >= ACKED_BEFORE_FAILURE && first.len() < workload.batches.len(),
        "the stream broke mid-way ({} acks)",
        first.len()
    );

    let (mut restarted, channel) = start_process(&database).await;
    deliver_rest(&channel, &workload, &first).await;
    wait_for_aggregation(&database.owner_url).await;
    assert_eq!(rollups(&channel, &workload).await, workload.expected);
    let total: i64 = workload.expected.values().map(|(_, count)| count).sum();
    assert_eq!(total, EVENTS as i64);
    restarted.kill().expect("stop tenantd");
    let _ = restarted.wait();
    database.drop_database().await;
}

crate::backend_tests!(survives_a_sigkill_mid_stream);

/// Terminates the server's own PostgreSQL sessions (the app role's), not
/// the change feed's listener, whose loss is another test's subject.
async fn cut_connections(owner_url: &str) -> u64 {
    let connection = Database::connect(owner_url)
        .await
        .expect("connect as owner");
    let done = connection
        .execute_unprepared(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid() \
               AND usename <> current_user AND query NOT ILIKE 'listen%'",
        )
        .await
        .expect("terminate the server's sessions");
    let _ = connection.close().await;
    done.rows_affected()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survives_lost_database_connections_mid_batch() {
    if !crate::support::db::postgres_available().await {
        return;
    }
    let server = TestServer::start(Backend::Postgres).await;
    let workload = prepare(&server.channel).await;
    let owner_url = server.database_url.clone();
    let (cuts_sender, mut cuts) = tokio::sync::mpsc::unbounded_channel();
    let cutter = tokio::spawn(async move {
        let mut sessions = 0;
        while cuts.recv().await.is_some() {
            sessions += cut_connections(&owner_url).await;
        }
        sessions
    });
    let first = send(&server.channel, workload.batches.clone(), |acks| {
        if acks % ACKED_BEFORE_FAILURE == 0 {
            let _ = cuts_sender.send(());
        }
    })
    .await;
    drop(cuts_sender);
    let cut_sessions = cutter.await.expect("cutter");
    assert!(cut_sessions > 0, "no database session was cut");

    deliver_rest(&server.channel, &workload, &first).await;
    wait_for_aggregation(&server.database_url).await;
    assert_eq!(rollups(&server.channel, &workload).await, workload.expected);
    server.stop().await;
}
