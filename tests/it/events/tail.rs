//! `tenantd events tail` with the real binary beside a serving replica:
//! it prints the events after `--after` that its flags keep, live ones
//! included, as CloudEvents JSON or as text lines.

use std::process::Stdio;
use std::time::Duration;

use tenantd::pb;

use super::{admin, events, request};
use crate::backend_tests;
use crate::process::tenantd;
use crate::support::fixtures::create;
use crate::support::{Backend, TestServer};

/// Runs `tenantd events tail <args>` on the server's database and waits
/// (at most 30 s) for it to exit; answers its stdout.
async fn tail(database_url: &str, args: &[&str]) -> tokio::task::JoinHandle<String> {
    let child = tenantd()
        .args(["events", "tail"])
        .args(args)
        .env("TENANTD_DATABASE_URL", database_url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tenantd events tail");
    tokio::task::spawn_blocking(move || {
        let output = child.wait_with_output().expect("tail ends");
        assert!(
            output.status.success(),
            "tail failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8")
    })
}

async fn tail_prints_past_and_live_events(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut tenants = server.tenants();
    let first = create(&mut tenants, "tailed").await;
    let second = create(&mut tenants, "untailed").await;
    let mut stream = admin(&server.channel)
        .watch_events(request(&[], Some(0)))
        .await
        .expect("watch")
        .into_inner();
    let created = events(&mut stream, 2).await;
    let newest = created[1].sequence.to_string();

    let live = tail(
        &server.database_url,
        &[
            "--after",
            &newest,
            "--type",
            "tenant.suspended",
            "--format",
            "json",
            "--limit",
            "1",
        ],
    )
    .await;
    let past = tail(
        &server.database_url,
        &["--after", "0", "--tenant", &first.id, "--limit", "1"],
    )
    .await;
    for tenant in [&second, &first] {
        tenants
            .suspend_tenant(pb::SuspendTenantRequest {
                name: tenant.name.clone(),
                reason: "tail test".into(),
                ..Default::default()
            })
            .await
            .expect("suspend");
    }
    let printed = tokio::time::timeout(Duration::from_secs(30), live)
        .await
        .expect("the live tail ends after one event")
        .expect("tail task");
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 1, "{printed}");
    let event: serde_json::Value = serde_json::from_str(lines[0]).expect("a JSON CloudEvent");
    assert_eq!(event["specversion"], "1.0");
    assert_eq!(event["type"], "dev.tenantd.tenant.suspended.v1");
    assert_eq!(event["subject"], second.name);
    assert_eq!(event["data"]["state"], "SUSPENDED");

    let printed = tokio::time::timeout(Duration::from_secs(30), past)
        .await
        .expect("the past tail ends after one event")
        .expect("tail task");
    let fields: Vec<&str> = printed.split_whitespace().collect();
    assert_eq!(fields[0], created[0].sequence.to_string(), "{printed}");
    assert_eq!(fields[2], "dev.tenantd.tenant.created.v1");
    assert_eq!(fields[3], first.name);
    server.stop().await;
}

backend_tests!(tail_prints_past_and_live_events);
