//! Late events and recomputation: events up to the late-arrival window
//! update their own past day once aggregated; `tenantd usage reaggregate`
//! recomputes the same rollups from the raw events (after they were
//! damaged), refuses days whose raw events may be gone; raw events past
//! their retention are deleted while their rollups stay.

use std::process::Stdio;

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, Database, EntityTrait, Set};
use tenantd::pb;
use tenantd::pb::usage_service_client::UsageServiceClient;
use tenantd::store::entities::{usage_event, usage_rollup};

use crate::process::tenantd;
use crate::support::db::TestDatabase;
use crate::support::fixtures::create;
use crate::support::server::{ADMIN_TOKEN, Credentials};
use crate::support::usage::{day_points, usage_event as event, wait_for_aggregation};
use crate::support::{Backend, TestServer};

type Points = Vec<(String, String, f64, i64)>;

fn user(id: &str, tenant: &str, name: &str, at: DateTime<Utc>) -> pb::UsageEvent {
    let mut made = event(id, tenant, "users", 0.0, at);
    made.dimensions.insert("user_id".into(), name.into());
    made
}

fn day(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

/// Every day point of `tenant` from `from` on, once aggregation caught up.
async fn aggregated_points(server: &TestServer, tenant: &str, from: DateTime<Utc>) -> Points {
    wait_for_aggregation(&server.database_url).await;
    let days = (day(from), day(Utc::now() + TimeDelta::days(1)));
    let mut points = day_points(&server.channel, tenant, days).await;
    points.sort_by(|left, right| (&left.0, &left.1).cmp(&(&right.0, &right.1)));
    points
}

async fn report(server: &TestServer, events: Vec<pb::UsageEvent>) {
    let mut admin = UsageServiceClient::with_interceptor(
        server.channel.clone(),
        Credentials::bearer(ADMIN_TOKEN),
    );
    let answer = admin
        .report_usage(pb::ReportUsageRequest { events })
        .await
        .expect("report usage")
        .into_inner();
    assert_eq!(answer.rejected_count, 0, "{:?}", answer.rejected_events);
}

async fn create_metrics(server: &TestServer) {
    use pb::MetricAggregation::{Latest, Max, Sum, UniqueCount};
    let metrics = [
        ("bytes", Sum, ""),
        ("peak", Max, ""),
        ("held", Latest, ""),
        ("users", UniqueCount, "user_id"),
    ];
    crate::support::usage::create_metrics(&server.channel, &metrics).await;
}

/// Runs `tenantd usage reaggregate` on `database_url`.
fn reaggregate(database_url: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> std::process::Output {
    tenantd()
        .args([
            "usage",
            "reaggregate",
            "--from",
            &day(from),
            "--to",
            &day(to),
        ])
        .env("TENANTD_DATABASE_URL", database_url)
        .stdin(Stdio::null())
        .output()
        .expect("run tenantd usage reaggregate")
}

async fn late_events_update_their_day_and_reaggregation_agrees(backend: Backend) {
    let server = TestServer::start(backend).await;
    let acme = create(&mut server.tenants(), "acme").await.name;
    create_metrics(&server).await;
    let now = Utc::now() - TimeDelta::seconds(1);
    let late = now - TimeDelta::days(3);
    let oldest = now - TimeDelta::days(6);
    report(
        &server,
        vec![
            event("b1", &acme, "bytes", 10.0, now),
            event("p1", &acme, "peak", 4.0, now),
            event("h1", &acme, "held", 8.0, now),
            user("u1", &acme, "ann", now),
            event("b2", &acme, "bytes", 1.0, late),
            user("u2", &acme, "ann", late),
        ],
    )
    .await;
    let before = aggregated_points(&server, &acme, oldest).await;
    assert_eq!(before.len(), 6, "{before:?}");

    // Late events, after their day was aggregated, land on their own day.
    report(
        &server,
        vec![
            event("b3", &acme, "bytes", 5.0, late),
            event("p2", &acme, "peak", 9.0, late),
            event("p3", &acme, "peak", 2.0, late),
            event("h2", &acme, "held", 100.0, late - TimeDelta::seconds(5)),
            event("h3", &acme, "held", 7.0, late),
            user("u3", &acme, "bob", late),
            user("u4", &acme, "ann", late),
            event("b4", &acme, "bytes", 2.5, oldest),
        ],
    )
    .await;
    let expected: Points = vec![
        ("bytes".into(), day(oldest), 2.5, 1),
        ("bytes".into(), day(late), 6.0, 2),
        ("bytes".into(), day(now), 10.0, 1),
        ("held".into(), day(late), 7.0, 2),
        ("held".into(), day(now), 8.0, 1),
        ("peak".into(), day(late), 9.0, 2),
        ("peak".into(), day(now), 4.0, 1),
        ("users".into(), day(late), 2.0, 3),
        ("users".into(), day(now), 1.0, 1),
    ];
    assert_eq!(aggregated_points(&server, &acme, oldest).await, expected);

    // Damage the rollups; reaggregation rebuilds exactly what was there.
    let owner = Database::connect(&server.database_url)
        .await
        .expect("connect as owner");
    owner
        .execute_unprepared("UPDATE usage_rollups SET value = value + 1000, event_count = 0")
        .await
        .expect("damage rollups");
    owner
        .execute_unprepared("DELETE FROM usage_rollups WHERE metric = 'peak'")
        .await
        .expect("lose rollups");
    let app_url = server.database().url.clone();
    let outcome = reaggregate(&app_url, now - TimeDelta::days(7), now);
    assert!(
        outcome.status.success(),
        "{}",
        String::from_utf8_lossy(&outcome.stderr)
    );
    assert_eq!(aggregated_points(&server, &acme, oldest).await, expected);

    // Days whose raw events may have been deleted are not recomputed.
    let refused = reaggregate(&app_url, now - TimeDelta::days(100), now);
    assert!(!refused.status.success());
    // Operator commands log to stderr, keeping stdout for their output.
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("retention"), "{said}");
    let _ = owner.close().await;
    server.stop().await;
}

fn raw_event(tenant_id: uuid::Uuid, id: &str, at: DateTime<Utc>) -> usage_event::ActiveModel {
    usage_event::ActiveModel {
        tenant_id: Set(tenant_id),
        event_id: Set(id.to_owned()),
        metric: Set("bytes".to_owned()),
        quantity: Set(1.0),
        occurred_time: Set(at),
        day: Set(day(at)),
        dimensions: Set(serde_json::json!({})),
        unique_value: Set(None),
        ingest_time: Set(at),
    }
}

async fn raw_events_past_retention_are_deleted_rollups_stay(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    database.migrate_as_owner().await;
    let owner = Database::connect(&database.owner_url)
        .await
        .expect("connect as owner");
    let tenant_id = uuid::Uuid::now_v7();
    let old = Utc::now() - TimeDelta::days(60);
    raw_event(tenant_id, "old", old)
        .insert(&owner)
        .await
        .expect("insert an old event");
    usage_rollup::ActiveModel {
        tenant_id: Set(tenant_id),
        metric: Set("bytes".to_owned()),
        day: Set(day(old)),
        value: Set(1.0),
        event_count: Set(1),
        latest_micros: Set(old.timestamp_micros()),
        latest_event_id: Set("old".to_owned()),
        update_time: Set(old),
    }
    .insert(&owner)
    .await
    .expect("insert its rollup");
    raw_event(tenant_id, "recent", Utc::now())
        .insert(&owner)
        .await
        .expect("insert a recent event");
    let server = TestServer::start_on(&database, |config| {
        config.usage_event_retention = TimeDelta::days(35);
    })
    .await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let left: Vec<String> = usage_event::Entity::find()
            .all(&owner)
            .await
            .expect("read events")
            .into_iter()
            .map(|row| row.event_id)
            .collect();
        if left == ["recent"] {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "left: {left:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let rollups = usage_rollup::Entity::find()
        .all(&owner)
        .await
        .expect("read rollups");
    assert_eq!(rollups.len(), 1, "the old day's rollup stays");
    assert_eq!((rollups[0].day.clone(), rollups[0].value), (day(old), 1.0));
    server.stop().await;
    let _ = owner.close().await;
    database.drop_database().await;
}

crate::backend_tests!(
    late_events_update_their_day_and_reaggregation_agrees,
    raw_events_past_retention_are_deleted_rollups_stay,
);
