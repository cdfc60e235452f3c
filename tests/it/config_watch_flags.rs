//! WatchConfig and feature flags: the snapshot carries every flag as
//! resolved for the tenant, and creating, changing, overriding and deleting
//! a flag reach the watchers it concerns (a tenant's override only that
//! tenant's, a plan's only that plan's tenants').

use std::time::Duration;

use tenantd::pb;
use tenantd::pb::watch_config_response::Event;
use tonic::Streaming;

use crate::support::fixtures::create;
use crate::support::flags::{admin, boolean_flag, create_flag};
use crate::support::{Backend, TestServer};

const PATIENCE: Duration = Duration::from_secs(5);

async fn watch(server: &TestServer, parent: &str) -> Streaming<pb::WatchConfigResponse> {
    admin(&server.channel)
        .watch_config(pb::WatchConfigRequest {
            parent: parent.to_owned(),
            ..Default::default()
        })
        .await
        .expect("watch config")
        .into_inner()
}

async fn next(stream: &mut Streaming<pb::WatchConfigResponse>) -> Event {
    tokio::time::timeout(PATIENCE, stream.message())
        .await
        .expect("an event in time")
        .expect("healthy")
        .expect("an event")
        .event
        .expect("an event body")
}

fn changed_flag(event: Event) -> pb::Flag {
    match event {
        Event::FlagChanged(flag) => flag,
        other => panic!("expected flag_changed, got {other:?}"),
    }
}

async fn set_override(server: &TestServer, name: String, enabled: bool) {
    admin(&server.channel)
        .set_flag_override(pb::SetFlagOverrideRequest {
            flag_override: Some(pb::FlagOverride {
                name,
                enabled: Some(enabled),
                ..Default::default()
            }),
        })
        .await
        .expect("set override");
}

async fn flag_changes_reach_the_watchers_they_concern(backend: Backend) {
    let server = TestServer::start(backend).await;
    let tenant = create(&mut server.tenants(), "watch-flags").await;
    let other = create(&mut server.tenants(), "watch-flags-other").await;
    let mut configs = admin(&server.channel);
    create_flag(&mut configs, "checkout-v2", boolean_flag(Vec::new())).await;
    let mut stream = watch(&server, &tenant.name).await;
    match next(&mut stream).await {
        Event::Snapshot(snapshot) => {
            let keys: Vec<&str> = snapshot
                .flags
                .iter()
                .map(|flag| flag.key.as_str())
                .collect();
            assert_eq!(keys, ["checkout-v2"]);
            assert!(snapshot.flags[0].enabled);
        }
        other => panic!("expected a snapshot, got {other:?}"),
    }

    // Another tenant's override and another plan's are not this watcher's.
    set_override(
        &server,
        format!("{}/flagOverrides/checkout-v2", other.name),
        false,
    )
    .await;
    set_override(
        &server,
        "plans/enterprise/flagOverrides/checkout-v2".to_owned(),
        false,
    )
    .await;
    // Its own override is, resolved: the tenant sees the flag disabled.
    set_override(
        &server,
        format!("{}/flagOverrides/checkout-v2", tenant.name),
        false,
    )
    .await;
    let resolved = changed_flag(next(&mut stream).await);
    assert_eq!(
        (resolved.key.as_str(), resolved.enabled),
        ("checkout-v2", false)
    );

    create_flag(&mut configs, "dark-mode", boolean_flag(Vec::new())).await;
    let created = changed_flag(next(&mut stream).await);
    assert_eq!((created.key.as_str(), created.enabled), ("dark-mode", true));

    configs
        .delete_flag(pb::DeleteFlagRequest {
            name: "flags/dark-mode".to_owned(),
            etag: String::new(),
        })
        .await
        .expect("delete flag");
    match next(&mut stream).await {
        Event::FlagDeleted(key) => assert_eq!(key, "dark-mode"),
        other => panic!("expected flag_deleted, got {other:?}"),
    }
    drop(stream);
    server.stop().await;
}

crate::backend_tests!(flag_changes_reach_the_watchers_they_concern);
