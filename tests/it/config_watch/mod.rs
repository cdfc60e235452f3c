//! WatchConfig over real gRPC: a snapshot first, then every change that
//! concerns the tenant (its layer, its plan's, the defaults) and nothing
//! else; resuming after a revision gives exactly the later versions; a
//! revision ahead of the log, a slow watcher and a deleted tenant get the
//! answers the proto promises; a change on one replica reaches a watcher
//! on another.

mod replicas;

use std::time::Duration;

use serde_json::{Value, json};
use tenantd::pb;
use tenantd::pb::watch_config_response::Event;
use tonic::Code;
use tonic::Streaming;

use crate::config::{Configs, client, json_of, update};
use crate::support::fixtures::{create, mask};
use crate::support::server::ADMIN_TOKEN;
use crate::support::status::assert_error;
use crate::support::{Backend, TestServer};

/// How long an expected event may take.
const PATIENCE: Duration = Duration::from_secs(5);

async fn watch(
    configs: &mut Configs,
    parent: &str,
    after: i64,
) -> Streaming<pb::WatchConfigResponse> {
    configs
        .watch_config(pb::WatchConfigRequest {
            parent: parent.to_owned(),
            after_revision: after,
            heartbeat_interval: None,
        })
        .await
        .expect("watch config")
        .into_inner()
}

async fn next(stream: &mut Streaming<pb::WatchConfigResponse>) -> pb::WatchConfigResponse {
    tokio::time::timeout(PATIENCE, stream.message())
        .await
        .expect("an event in time")
        .expect("the stream is healthy")
        .expect("the stream goes on")
}

fn changed_config(event: &pb::WatchConfigResponse) -> &pb::Config {
    match &event.event {
        Some(Event::ConfigChanged(config)) => config,
        other => panic!("expected config_changed, got {other:?}"),
    }
}

fn snapshot_config(event: &pb::WatchConfigResponse) -> &pb::Config {
    match &event.event {
        Some(Event::Snapshot(snapshot)) => snapshot.config.as_ref().expect("a config"),
        other => panic!("expected a snapshot, got {other:?}"),
    }
}

async fn set(configs: &mut Configs, layer: &str, document: Value) {
    update(configs, layer, document, &[], "")
        .await
        .expect("update config");
}

async fn watchers_get_a_snapshot_then_the_changes_of_their_tenant(backend: Backend) {
    let server = TestServer::start(backend).await;
    let tenant = create(&mut server.tenants(), "watch-own").await;
    let other = create(&mut server.tenants(), "watch-other").await;
    let mut admin = client(&server, ADMIN_TOKEN);
    let own_layer = format!("{}/config", tenant.name);
    set(&mut admin, &own_layer, json!({"greeting": "hello"})).await;
    let mut stream = watch(&mut admin, &tenant.name, 0).await;
    let first = next(&mut stream).await;
    let snapshot = snapshot_config(&first);
    assert_eq!(json_of(snapshot)["greeting"], json!("hello"));
    assert_eq!(snapshot.name, own_layer);
    assert!(first.revision > 0, "the snapshot carries the log revision");

    // Another tenant's layer and another plan's layer are not this
    // watcher's business; its own plan's layer and the defaults are.
    set(
        &mut admin,
        &format!("{}/config", other.name),
        json!({"x": 1}),
    )
    .await;
    set(&mut admin, "plans/enterprise/config", json!({"y": 1})).await;
    set(
        &mut admin,
        &format!("plans/{}/config", tenant.plan),
        json!({"tier": "plan"}),
    )
    .await;
    let from_plan = next(&mut stream).await;
    assert_eq!(json_of(changed_config(&from_plan))["tier"], json!("plan"));
    assert!(
        from_plan.revision >= first.revision + 3,
        "the skipped changes took revisions"
    );
    set(&mut admin, "defaults/config", json!({"region": "eu"})).await;
    let from_defaults = next(&mut stream).await;
    assert_eq!(
        json_of(changed_config(&from_defaults)),
        json!({"greeting": "hello", "tier": "plan", "region": "eu"})
    );
    set(&mut admin, &own_layer, json!({"greeting": "bye"})).await;
    let own = next(&mut stream).await;
    let config = changed_config(&own);
    assert_eq!(config.version, 2);
    assert_eq!(json_of(config)["greeting"], json!("bye"));
    assert!(own.revision > from_defaults.revision);
    drop(stream);
    server.stop().await;
}

async fn resuming_after_a_revision_gets_exactly_the_later_versions(backend: Backend) {
    let server = TestServer::start(backend).await;
    let tenant = create(&mut server.tenants(), "watch-resume").await;
    let mut admin = client(&server, ADMIN_TOKEN);
    let layer = format!("{}/config", tenant.name);
    let mut stream = watch(&mut admin, &tenant.name, 0).await;
    next(&mut stream).await;
    let mut revisions = Vec::new();
    for step in 1..=6 {
        set(&mut admin, &layer, json!({"step": step})).await;
        let event = next(&mut stream).await;
        assert_eq!(changed_config(&event).version, step);
        revisions.push(event.revision);
    }
    drop(stream);
    // Resume after version 3: versions 4, 5 and 6 follow, as they were,
    // and then the live change made after the resume, with no snapshot.
    let mut resumed = watch(&mut admin, &tenant.name, revisions[2]).await;
    for step in 4..=6 {
        let event = next(&mut resumed).await;
        let config = changed_config(&event);
        assert_eq!(config.version, step);
        assert_eq!(json_of(config)["step"], json!(step));
        assert_eq!(event.revision, revisions[step as usize - 1]);
    }
    set(&mut admin, "defaults/config", json!({"marker": true})).await;
    let live = next(&mut resumed).await;
    let config = changed_config(&live);
    assert_eq!(
        (config.version, json_of(config)["marker"].clone()),
        (6, json!(true))
    );
    drop(resumed);
    server.stop().await;
}

async fn a_revision_ahead_of_the_log_gets_a_resync_and_a_snapshot(backend: Backend) {
    let server = TestServer::start(backend).await;
    let tenant = create(&mut server.tenants(), "watch-ahead").await;
    let mut admin = client(&server, ADMIN_TOKEN);
    let mut stream = watch(&mut admin, &tenant.name, 1_000_000).await;
    let first = next(&mut stream).await;
    match &first.event {
        Some(Event::ResyncRequired(resync)) => assert_eq!(
            resync.reason,
            i32::from(pb::WatchResyncReason::RevisionUnknown)
        ),
        other => panic!("expected a resync, got {other:?}"),
    }
    snapshot_config(&next(&mut stream).await);
    drop(stream);
    server.stop().await;
}

async fn a_watcher_that_does_not_read_is_told_it_fell_behind(backend: Backend) {
    let server = TestServer::start(backend).await;
    let tenant = create(&mut server.tenants(), "watch-slow").await;
    let mut admin = client(&server, ADMIN_TOKEN);
    let layer = format!("{}/config", tenant.name);
    let mut stream = watch(&mut admin, &tenant.name, 0).await;
    next(&mut stream).await;
    // Each event carries ~64 KiB, so the transport's flow-control windows
    // fill after a few dozen and the watcher waits to send; what the log
    // records meanwhile (here, another tenant's changes) overflows its
    // share of the ring and must be dropped for it, not queued.
    let padding = "p".repeat(64 * 1024);
    for step in 0..60 {
        set(
            &mut admin,
            &layer,
            json!({"step": step, "padding": padding}),
        )
        .await;
    }
    let other = create(&mut server.tenants(), "watch-busy").await;
    let busy = format!("{}/config", other.name);
    for step in 0..300 {
        set(&mut admin, &busy, json!({"step": step})).await;
    }
    let mut fell_behind = false;
    loop {
        let event = next(&mut stream).await;
        match &event.event {
            Some(Event::ResyncRequired(resync)) => {
                assert_eq!(resync.reason, i32::from(pb::WatchResyncReason::FellBehind));
                fell_behind = true;
            }
            Some(Event::Snapshot(_)) => {
                assert!(fell_behind, "a snapshot follows the resync");
                assert_eq!(json_of(snapshot_config(&event))["step"], json!(59));
                break;
            }
            Some(Event::ConfigChanged(_)) => {
                assert!(!fell_behind, "no change between resync and snapshot")
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    drop(stream);
    server.stop().await;
}

async fn deleting_the_tenant_ends_its_watch_with_not_found(backend: Backend) {
    let server = TestServer::start(backend).await;
    let tenant = create(&mut server.tenants(), "watch-gone").await;
    let mut admin = client(&server, ADMIN_TOKEN);
    let mut stream = watch(&mut admin, &tenant.name, 0).await;
    next(&mut stream).await;
    server
        .tenants()
        .delete_tenant(pb::DeleteTenantRequest {
            name: tenant.name.clone(),
            ..Default::default()
        })
        .await
        .expect("delete tenant");
    let ended = tokio::time::timeout(PATIENCE, stream.message())
        .await
        .expect("the stream ends in time")
        .expect_err("the stream ends with an error");
    assert_eq!(ended.code(), Code::NotFound);
    server.stop().await;
}

async fn moving_to_another_plan_sends_a_snapshot_of_the_new_plan(backend: Backend) {
    let server = TestServer::start(backend).await;
    let tenant = create(&mut server.tenants(), "watch-move").await;
    let mut admin = client(&server, ADMIN_TOKEN);
    set(
        &mut admin,
        &format!("plans/{}/config", tenant.plan),
        json!({"seats": 5}),
    )
    .await;
    set(&mut admin, "plans/enterprise/config", json!({"seats": 500})).await;
    let mut stream = watch(&mut admin, &tenant.name, 0).await;
    assert_eq!(
        json_of(snapshot_config(&next(&mut stream).await))["seats"],
        json!(5)
    );
    server
        .tenants()
        .update_tenant(pb::UpdateTenantRequest {
            tenant: Some(pb::Tenant {
                name: tenant.name.clone(),
                plan: "enterprise".to_owned(),
                ..Default::default()
            }),
            update_mask: mask(&["plan"]),
        })
        .await
        .expect("move plan");
    let moved = next(&mut stream).await;
    assert_eq!(json_of(snapshot_config(&moved))["seats"], json!(500));
    // The enterprise layer now concerns it.
    set(&mut admin, "plans/enterprise/config", json!({"seats": 600})).await;
    assert_eq!(
        json_of(changed_config(&next(&mut stream).await))["seats"],
        json!(600)
    );
    drop(stream);
    server.stop().await;
}

async fn bad_watch_requests_are_refused_with_their_field(backend: Backend) {
    let server = TestServer::start(backend).await;
    let tenant = create(&mut server.tenants(), "watch-bad").await;
    let mut admin = client(&server, ADMIN_TOKEN);
    for (request, field) in [
        (
            pb::WatchConfigRequest {
                parent: tenant.name.clone(),
                after_revision: -1,
                heartbeat_interval: None,
            },
            "after_revision",
        ),
        (
            pb::WatchConfigRequest {
                parent: tenant.name.clone(),
                after_revision: 0,
                heartbeat_interval: Some(prost_types::Duration {
                    seconds: 1,
                    nanos: 0,
                }),
            },
            "heartbeat_interval",
        ),
        (
            pb::WatchConfigRequest {
                parent: "tenants".to_owned(),
                after_revision: 0,
                heartbeat_interval: None,
            },
            "parent",
        ),
    ] {
        let refused = admin.watch_config(request).await.expect_err("refused");
        assert_error(&refused, Code::InvalidArgument, "INVALID_ARGUMENT");
        assert!(
            crate::support::status::invalid_fields(&refused).contains(&field.to_owned()),
            "{field} is named in {refused:?}"
        );
    }
    server.stop().await;
}

crate::backend_tests!(
    watchers_get_a_snapshot_then_the_changes_of_their_tenant,
    resuming_after_a_revision_gets_exactly_the_later_versions,
    a_revision_ahead_of_the_log_gets_a_resync_and_a_snapshot,
    a_watcher_that_does_not_read_is_told_it_fell_behind,
    deleting_the_tenant_ends_its_watch_with_not_found,
    moving_to_another_plan_sends_a_snapshot_of_the_new_plan,
    bad_watch_requests_are_refused_with_their_field,
);
