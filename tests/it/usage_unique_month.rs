//! A month's UNIQUE_COUNT outlives the raw events: the distinct values the
//! aggregation folded are kept with the rollups, so once retention deleted
//! the raw events, QueryUsage still answers the month's (and the day's)
//! distinct count, late values still add to it, and another tenant's count
//! is its own.

use chrono::{DateTime, Datelike, TimeDelta, Utc};
use tenantd::pb;
use tenantd::storage::{PoolOptions, Store};

use crate::support::fixtures::create;
use crate::support::server::{ADMIN_TOKEN, SERVICE_TOKEN};
use crate::support::usage::wait_for_aggregation;
use crate::support::{Backend, TestServer};
use crate::usage::{Client, client, create_metric, day, event, report};

fn user(id: &str, tenant: &str, name: &str, at: DateTime<Utc>) -> pb::UsageEvent {
    let mut made = event(id, tenant, "users", 0.0, at);
    made.dimensions.insert("user_id".into(), name.into());
    made
}

/// The `users` value of `tenant` from the first of `at`'s month to `at`,
/// as one point of `granularity`, once aggregation caught up.
async fn users(
    server: &TestServer,
    admin: &mut Client,
    tenant: &str,
    at: DateTime<Utc>,
    granularity: pb::UsageGranularity,
) -> Vec<f64> {
    wait_for_aggregation(&server.database_url).await;
    let first = at.date_naive().with_day(1).expect("first of the month");
    let answer = admin
        .query_usage(pb::QueryUsageRequest {
            parent: tenant.to_owned(),
            metrics: vec!["users".to_owned()],
            start_day: first.to_string(),
            end_day: day(at),
            granularity: granularity.into(),
        })
        .await
        .expect("query usage")
        .into_inner();
    answer.series[0]
        .points
        .iter()
        .map(|point| point.value)
        .collect()
}

async fn a_month_counts_its_distinct_values_after_retention(backend: Backend) {
    use pb::UsageGranularity::{Day, Month};
    let server = TestServer::start(backend).await;
    let mut tenants = server.tenants();
    let acme = create(&mut tenants, "acme").await.name;
    let globex = create(&mut tenants, "globex").await.name;
    let mut admin = client(&server, ADMIN_TOKEN);
    create_metric(&mut admin, "users", pb::MetricAggregation::UniqueCount).await;
    let mut service = client(&server, SERVICE_TOKEN);
    let now = Utc::now() - TimeDelta::seconds(1);
    let events = vec![
        user("u1", &acme, "ann", now),
        user("u2", &acme, "bob", now),
        user("u3", &acme, "ann", now),
        user("u4", &acme, "cy", now),
        user("g1", &globex, "ann", now),
    ];
    assert_eq!(report(&mut service, events).await.accepted_count, 5);
    assert_eq!(users(&server, &mut admin, &acme, now, Month).await, [3.0]);

    // Retention deletes the raw events (here every day's, up to tomorrow).
    let store = Store::connect(&server.database_url, &PoolOptions::default())
        .await
        .expect("connect");
    let deleted = store
        .purge_usage_events(now.date_naive() + TimeDelta::days(2))
        .await
        .expect("purge raw events");
    // SQLite keeps the event with the greatest rowid (see the purge).
    assert!(deleted >= 4, "{deleted} raw events deleted");
    let _ = store.close().await;

    assert_eq!(users(&server, &mut admin, &acme, now, Month).await, [3.0]);
    assert_eq!(users(&server, &mut admin, &acme, now, Day).await, [3.0]);
    assert_eq!(users(&server, &mut admin, &globex, now, Month).await, [1.0]);

    // Values folded later add to the same month and day, counted once.
    let later = vec![user("u5", &acme, "dee", now), user("u6", &acme, "ann", now)];
    assert_eq!(report(&mut service, later).await.accepted_count, 2);
    assert_eq!(users(&server, &mut admin, &acme, now, Month).await, [4.0]);
    assert_eq!(users(&server, &mut admin, &acme, now, Day).await, [4.0]);
    assert_eq!(users(&server, &mut admin, &globex, now, Month).await, [1.0]);
    server.stop().await;
}

crate::backend_tests!(a_month_counts_its_distinct_values_after_retention);
