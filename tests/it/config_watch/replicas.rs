//! WatchConfig across replicas and over a server's life: a change made on
//! one replica reaches another's watchers, shutting down ends watches,
//! idle watches get heartbeats. These need PostgreSQL.

use std::time::Duration;

use serde_json::json;
use tenantd::pb;
use tenantd::pb::watch_config_response::Event;
use tonic::Code;

use super::{PATIENCE, changed_config, next, set, watch};
use crate::config::{client, json_of};
use crate::support::fixtures::create;
use crate::support::server::ADMIN_TOKEN;
use crate::support::{Backend, TestServer};

/// Two servers share PostgreSQL: an update made on the first reaches a
/// watcher on the second, and the second's cached GetConfig, within a
/// second, though its cache would keep answers an hour.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_one_replica_reaches_watchers_and_reads_on_another() {
    let Some((first, second)) = TestServer::replicas_with_long_cache().await else {
        return;
    };
    let tenant = create(&mut first.tenants(), "watch-replicas").await;
    let layer = format!("{}/config", tenant.name);
    let mut on_first = client(&first, ADMIN_TOKEN);
    let mut on_second = client(&second, ADMIN_TOKEN);
    set(&mut on_first, &layer, json!({"n": 1})).await;
    let read = crate::config::get(&mut on_second, &layer, pb::ConfigView::Effective).await;
    assert_eq!(
        json_of(&read)["n"],
        json!(1),
        "the second server's cache is warm"
    );
    let mut stream = watch(&mut on_second, &tenant.name, 0).await;
    next(&mut stream).await;
    let started = std::time::Instant::now();
    set(&mut on_first, &layer, json!({"n": 2})).await;
    let event = tokio::time::timeout(Duration::from_secs(1), stream.message())
        .await
        .expect("the change reaches the other replica within a second")
        .expect("healthy")
        .expect("an event");
    assert_eq!(json_of(changed_config(&event))["n"], json!(2));
    eprintln!(
        "update reached the other replica's watcher in {:?}",
        started.elapsed()
    );
    let read = crate::config::get(&mut on_second, &layer, pb::ConfigView::Effective).await;
    assert_eq!(
        json_of(&read)["n"],
        json!(2),
        "the second server's cache was dropped"
    );
    drop(stream);
    second.stop().await;
    first.stop().await;
}

/// Shutting down ends open watches with UNAVAILABLE at once, so they do not
/// hold the server for its grace period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutting_down_ends_watches_with_unavailable() {
    let server = TestServer::start_with(Backend::Sqlite, |config| {
        config.shutdown_grace = Duration::from_secs(30);
    })
    .await;
    let tenant = create(&mut server.tenants(), "watch-shutdown").await;
    let mut admin = client(&server, ADMIN_TOKEN);
    let mut open = watch(&mut admin, &tenant.name, 0).await;
    next(&mut open).await;
    let mut abandoned = watch(&mut admin, &tenant.name, 0).await;
    next(&mut abandoned).await;
    drop(abandoned);
    let started = std::time::Instant::now();
    let stopping = tokio::spawn(server.stop());
    let ended = tokio::time::timeout(PATIENCE, open.message())
        .await
        .expect("the watch ends in time")
        .expect_err("with an error");
    assert_eq!(ended.code(), Code::Unavailable);
    stopping.await.expect("the server stops");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stopping took {:?}",
        started.elapsed()
    );
}

/// A quiet watch gets heartbeats, and their revision keeps up with the
/// changes it was not sent (another tenant's), so resuming from it skips
/// nothing and replays nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_watches_get_heartbeats_that_keep_their_revision_current() {
    let server = TestServer::start(Backend::Sqlite).await;
    let tenant = create(&mut server.tenants(), "watch-idle").await;
    let other = create(&mut server.tenants(), "watch-idle-other").await;
    let mut admin = client(&server, ADMIN_TOKEN);
    let mut stream = admin
        .watch_config(pb::WatchConfigRequest {
            parent: tenant.name.clone(),
            after_revision: 0,
            heartbeat_interval: Some(prost_types::Duration {
                seconds: 5,
                nanos: 0,
            }),
        })
        .await
        .expect("watch config")
        .into_inner();
    let snapshot = next(&mut stream).await;
    set(
        &mut admin,
        &format!("{}/config", other.name),
        json!({"x": 1}),
    )
    .await;
    let started = std::time::Instant::now();
    let heartbeat = tokio::time::timeout(Duration::from_secs(8), stream.message())
        .await
        .expect("a heartbeat in time")
        .expect("healthy")
        .expect("an event");
    assert!(
        matches!(heartbeat.event, Some(Event::Heartbeat(_))),
        "{heartbeat:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "not before the interval"
    );
    assert_eq!(
        heartbeat.revision,
        snapshot.revision + 1,
        "the other tenant's change is covered"
    );
    drop(stream);
    server.stop().await;
}
