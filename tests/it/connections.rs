//! Connection ageing: with `--max-connection-age-seconds`, a connection is
//! asked to go away once it is that old and closed after the grace, so a
//! client reconnects (through the load balancer, to any replica); without
//! it, a long stream stays open.

use std::time::Duration;

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::support::{Backend, TestServer};

/// Whether a Health/Watch stream opened now is still open after `after`.
async fn stream_outlives(server: &TestServer, after: Duration) -> bool {
    let mut health = HealthClient::new(server.channel.clone());
    let mut stream = health
        .watch(HealthCheckRequest::default())
        .await
        .expect("watch")
        .into_inner();
    let first = stream.message().await.expect("first status");
    assert!(first.is_some(), "the watch answers the current status");
    // The status does not change: the next message only comes (as an
    // error or an end) when the connection goes.
    tokio::time::timeout(after, stream.message()).await.is_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aged_connection_is_closed_after_its_grace_and_a_young_one_is_not() {
    let ageing = TestServer::start_with(Backend::Sqlite, |config| {
        config.connections.max_age = Some(Duration::from_secs(1));
        config.connections.max_age_grace = Duration::from_secs(1);
    })
    .await;
    assert!(
        !stream_outlives(&ageing, Duration::from_secs(6)).await,
        "the stream was cut once its connection aged"
    );
    // The client reconnects by itself: a call succeeds on a new connection
    // (the first may still meet the closed one, as any client may after a
    // disconnect, and is retried).
    let mut health = HealthClient::new(ageing.channel.clone());
    let mut answered = false;
    for _ in 0..5 {
        if health.check(HealthCheckRequest::default()).await.is_ok() {
            answered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(answered, "a call on a new connection");
    ageing.stop().await;

    let lasting = TestServer::start(Backend::Sqlite).await;
    assert!(stream_outlives(&lasting, Duration::from_secs(3)).await);
    lasting.stop().await;
}
