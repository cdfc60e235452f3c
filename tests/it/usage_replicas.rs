//! Aggregation across replicas on PostgreSQL: two servers ingesting at
//! once give exact rollups; aggregation runs under one advisory lock (while
//! someone else holds it, no replica aggregates); and an ingestion
//! transaction that commits after later ones is still counted, which a
//! watermark on commit order (not id order) is for.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use prost_types::Timestamp;
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement, TransactionTrait};
use tenantd::pb;
use tenantd::store::LockKey;
use tenantd::store::scope::Scope;
use tenantd::store::{PoolOptions, Store};
use tonic::transport::Channel;

use crate::support::fixtures::create;
use crate::support::usage::{day_points, wait_for_aggregation};
use crate::support::{Backend, TestServer};
use crate::usage_delivery::send;

const TENANTS: usize = 4;
const BATCHES_PER_SERVER: usize = 20;
const BATCH: usize = 500;

async fn create_metrics(channel: &Channel) {
    use pb::MetricAggregation::{Max, Sum, UniqueCount};
    let metrics = [
        ("bytes", Sum, ""),
        ("peak", Max, ""),
        ("users", UniqueCount, "user_id"),
    ];
    crate::support::usage::create_metrics(channel, &metrics).await;
}

/// Event `index`: its tenant, metric and quantity cycle; `users` events
/// name one of 97 users.
fn event(tenants: &[String], index: usize) -> pb::UsageEvent {
    let metric = ["bytes", "peak", "users"][index % 3];
    let mut made = pb::UsageEvent {
        event_id: format!("event-{index}"),
        tenant: tenants[index % tenants.len()].clone(),
        metric: metric.to_owned(),
        quantity: (index % 11) as f64,
        occurred_time: Some(Timestamp {
            seconds: (Utc::now() - TimeDelta::seconds(2)).timestamp(),
            nanos: 0,
        }),
        ..Default::default()
    };
    if metric == "users" {
        made.dimensions
            .insert("user_id".into(), format!("user-{}", index % 97));
    }
    made
}

/// What `events` make, by (tenant, metric): value and event count.
fn expected(events: &[pb::UsageEvent]) -> BTreeMap<(String, String), (f64, i64)> {
    let mut users: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    let mut made: BTreeMap<(String, String), (f64, i64)> = BTreeMap::new();
    for event in events {
        let entry = made
            .entry((event.tenant.clone(), event.metric.clone()))
            .or_insert((0.0, 0));
        entry.1 += 1;
        match event.metric.as_str() {
            "bytes" => entry.0 += event.quantity,
            "peak" => entry.0 = entry.0.max(event.quantity),
            _ => {
                let seen = users.entry(event.tenant.clone()).or_default();
                seen.insert(event.dimensions["user_id"].clone());
                entry.0 = seen.len() as f64;
            }
        }
    }
    made
}

async fn found(channel: &Channel, tenants: &[String]) -> BTreeMap<(String, String), (f64, i64)> {
    let days = (
        (Utc::now() - TimeDelta::days(1))
            .format("%Y-%m-%d")
            .to_string(),
        Utc::now().format("%Y-%m-%d").to_string(),
    );
    let mut made = BTreeMap::new();
    for tenant in tenants {
        for (metric, _day, value, count) in day_points(channel, tenant, days.clone()).await {
            let entry = made.entry((tenant.clone(), metric)).or_insert((0.0, 0));
            entry.0 += value;
            entry.1 += count;
        }
    }
    made
}

fn batches(events: &[pb::UsageEvent]) -> Vec<pb::StreamUsageRequest> {
    events
        .chunks(BATCH)
        .enumerate()
        .map(|(index, chunk)| pb::StreamUsageRequest {
            sequence: index as i64 + 1,
            events: chunk.to_vec(),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_ingest_concurrently_and_aggregate_one_at_a_time() {
    if !crate::support::db::postgres_available().await {
        return;
    }
    let first = TestServer::start(Backend::Postgres).await;
    let second = TestServer::start_on(first.database(), |_| {}).await;
    let mut tenants_client = first.tenants();
    let mut tenants = Vec::new();
    for index in 0..TENANTS {
        tenants.push(
            create(&mut tenants_client, &format!("replica{index}"))
                .await
                .name,
        );
    }
    create_metrics(&first.channel).await;
    let per_server = BATCHES_PER_SERVER * BATCH;
    let events: Vec<pb::UsageEvent> = (0..2 * per_server)
        .map(|index| event(&tenants, index))
        .collect();
    // Each server gets its half, plus the other's first batches again: the
    // same events racing through two servers count once.
    let mut to_first = events[..per_server].to_vec();
    to_first.extend_from_slice(&events[per_server..per_server + 2 * BATCH]);
    let mut to_second = events[per_server..].to_vec();
    to_second.extend_from_slice(&events[..2 * BATCH]);
    let (acked_first, acked_second) = tokio::join!(
        send(&first.channel, batches(&to_first), |_| {}),
        send(&second.channel, batches(&to_second), |_| {}),
    );
    assert_eq!(acked_first.len(), to_first.len() / BATCH);
    assert_eq!(acked_second.len(), to_second.len() / BATCH);
    wait_for_aggregation(&first.database_url).await;
    let want = expected(&events);
    assert_eq!(found(&first.channel, &tenants).await, want);
    assert_eq!(found(&second.channel, &tenants).await, want);

    // While another session holds the aggregation lock, neither replica
    // aggregates; once it is released, one catches up.
    let owner = Database::connect(&first.database_url)
        .await
        .expect("connect as owner");
    let locked = Statement::from_string(
        DbBackend::Postgres,
        format!("SELECT pg_advisory_lock({})", aggregation_lock()),
    );
    owner
        .execute_raw(locked)
        .await
        .expect("take the aggregation lock");
    let store = Store::connect(&first.database_url, &PoolOptions::default())
        .await
        .expect("connect");
    let held_at = store
        .usage_aggregation_progress(Scope::Platform)
        .await
        .expect("progress");
    let more: Vec<pb::UsageEvent> = (2 * per_server..2 * per_server + BATCH)
        .map(|index| event(&tenants, index))
        .collect();
    send(&second.channel, batches(&more), |_| {}).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let while_held = store
        .usage_aggregation_progress(Scope::Platform)
        .await
        .expect("progress");
    assert_eq!(
        while_held.position, held_at.position,
        "a replica aggregated without the lock"
    );
    assert_eq!(
        found(&first.channel, &tenants).await,
        want,
        "rollups moved without the lock"
    );
    let unlocked = Statement::from_string(
        DbBackend::Postgres,
        format!("SELECT pg_advisory_unlock({})", aggregation_lock()),
    );
    owner
        .execute_raw(unlocked)
        .await
        .expect("release the aggregation lock");
    wait_for_aggregation(&first.database_url).await;
    let all: Vec<pb::UsageEvent> = events.iter().chain(more.iter()).cloned().collect();
    assert_eq!(found(&first.channel, &tenants).await, expected(&all));

    let _ = store.close().await;
    let _ = owner.close().await;
    second.stop().await;
    first.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_committing_after_later_ones_is_still_counted() {
    if !crate::support::db::postgres_available().await {
        return;
    }
    let server = TestServer::start(Backend::Postgres).await;
    let tenant = create(&mut server.tenants(), "slow").await;
    create_metrics(&server.channel).await;
    let owner = Database::connect(&server.database_url)
        .await
        .expect("connect as owner");
    // An ingestion transaction that takes its xid first and commits last.
    let slow = owner.begin().await.expect("begin");
    slow.execute_unprepared(&format!(
        "INSERT INTO usage_events (tenant_id, event_id, metric, quantity, occurred_time, day, \
         dimensions, unique_value, ingest_time) VALUES ('{}', 'slow', 'bytes', 1000, now(), \
         to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD'), '{{}}', NULL, now())",
        tenant.id
    ))
    .await
    .expect("insert in the slow transaction");
    let tenants = vec![tenant.name.clone()];
    // Every third event is a `bytes` one.
    let quick: Vec<pb::UsageEvent> = (0..BATCH).map(|index| event(&tenants, index * 3)).collect();
    let acked = send(&server.channel, batches(&quick), |_| {}).await;
    assert_eq!(acked.len(), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    slow.commit().await.expect("commit the slow transaction");
    wait_for_aggregation(&server.database_url).await;
    let made = found(&server.channel, &tenants).await;
    let quick_sum: f64 = quick.iter().map(|event| event.quantity).sum();
    assert_eq!(
        made.get(&(tenant.name.clone(), "bytes".to_owned())),
        Some(&(quick_sum + 1000.0, BATCH as i64 + 1))
    );
    let _ = owner.close().await;
    server.stop().await;
}

/// The key of the aggregation's advisory lock.
fn aggregation_lock() -> i64 {
    LockKey::Aggregation
        .single()
        .expect("aggregation's lock has a single key")
}
