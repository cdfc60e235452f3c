//! A month's UNIQUE_COUNT outlives the raw events: the distinct values the
//! aggregation folded are kept with the rollups, so once retention deleted
//! the raw events, QueryUsage still answers the month's (and the day's)
//! distinct count, late values still add to it, and another tenant's count
//! is its own. Migrating an existing database keeps the values already
//! folded.

use chrono::{DateTime, Datelike, TimeDelta, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, Database, EntityTrait, QueryOrder, Set};
use tenantd::pb;
use tenantd::store::entities::{usage_event, usage_unique_value};
use tenantd::store::{PoolOptions, Store};
use tenantd_migration::{Migrator, MigratorTrait};

use crate::support::db::TestDatabase;
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

fn raw_user(tenant_id: uuid::Uuid, id: &str, name: &str) -> usage_event::ActiveModel {
    let at = Utc::now();
    usage_event::ActiveModel {
        tenant_id: Set(tenant_id),
        event_id: Set(id.to_owned()),
        metric: Set("users".to_owned()),
        quantity: Set(0.0),
        occurred_time: Set(at),
        day: Set(day(at)),
        dimensions: Set(serde_json::json!({ "user_id": name })),
        unique_value: Set(Some(name.to_owned())),
        ingest_time: Set(at),
    }
}

/// Migrating copies the distinct values of the events already folded
/// (below the watermark), and only those.
async fn migrating_keeps_the_folded_values(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let owner = Database::connect(&database.owner_url)
        .await
        .expect("connect as owner");
    let before_m0017 = Migrator::migrations()
        .iter()
        .position(|migration| migration.name().starts_with("m0017_"))
        .expect("m0017 is registered");
    Migrator::up(&owner, Some(u32::try_from(before_m0017).expect("count")))
        .await
        .expect("migrate up to m0016");
    let tenant_id = uuid::Uuid::now_v7();
    for (id, name) in [("e1", "ann"), ("e2", "bob"), ("e3", "ann")] {
        raw_user(tenant_id, id, name)
            .insert(&owner)
            .await
            .expect("insert a folded event");
    }
    let past_them = match backend {
        Backend::Postgres => "pg_snapshot_xmax(pg_current_snapshot())::text::bigint",
        Backend::Sqlite => "(SELECT MAX(rowid) + 1 FROM usage_events)",
    };
    owner
        .execute_unprepared(&format!(
            "UPDATE usage_aggregation SET position = {past_them}"
        ))
        .await
        .expect("move the watermark past them");
    raw_user(tenant_id, "e4", "cy")
        .insert(&owner)
        .await
        .expect("insert an event not folded yet");
    Migrator::up(&owner, None).await.expect("migrate");
    let kept: Vec<String> = usage_unique_value::Entity::find()
        .order_by_asc(usage_unique_value::Column::Value)
        .all(&owner)
        .await
        .expect("read the unique values")
        .into_iter()
        .map(|row| row.value)
        .collect();
    assert_eq!(kept, ["ann", "bob"]);
    let _ = owner.close().await;
    database.drop_database().await;
}

crate::backend_tests!(
    a_month_counts_its_distinct_values_after_retention,
    migrating_keeps_the_folded_values,
);
