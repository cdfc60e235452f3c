//! Hostile costs cannot wrap, poison or unbalance quota counters. A cost of
//! `i64::MAX` in ADJUST mode, sent twice, once panicked the in-process
//! limiter of a debug build (poisoning its lock, so every tenant's quota
//! calls answered INTERNAL until a restart) and wrapped the counter
//! negative in a release build. Now it is INVALID_ARGUMENT naming the
//! field; counters stop exactly at their documented maximum; and another
//! tenant's CheckQuota, AllocateQuota, GetQuotaStatus and ShouldRateLimit
//! answer as if nothing happened. The same on the in-process limiter, on
//! Redis and on a Redis Cluster, over SQLite and PostgreSQL.

use tenantd::pb;
use tenantd::quota::limiter::bounds::{MAX_AMOUNT, MAX_USAGE};
use tonic::Code;

use crate::quota::{
    Quotas, allocate, costs, definition, quotas, redis_available, redis_url, tenant_on_plan, used,
};
use crate::quota_cluster::LocalCluster;
use crate::ratelimit::{ask, client, descriptor};
use crate::support::server::{Credentials, SERVICE_TOKEN};
use crate::support::status::invalid_fields;
use crate::support::{Backend, TestServer};

/// A plan every charge of `hostile` tries to break: seats held, an
/// unlimited daily count, and a bucket that would take 10^15 hours to
/// drain.
fn hostile_plan() -> Vec<pb::QuotaDefinition> {
    vec![
        definition("seats", pb::QuotaKind::Allocation, 10),
        pb::QuotaDefinition {
            period: pb::QuotaPeriod::Hour.into(),
            burst: MAX_AMOUNT,
            shadow: true,
            ..definition("slow", pb::QuotaKind::Rate, 1)
        },
        pb::QuotaDefinition {
            period: pb::QuotaPeriod::Day.into(),
            unlimited: true,
            ..definition("events", pb::QuotaKind::Periodic, 0)
        },
    ]
}

/// The bystander's plan: seats, and the request rate Envoy asks about.
fn bystander_plan() -> Vec<pb::QuotaDefinition> {
    vec![
        definition("seats", pb::QuotaKind::Allocation, 10),
        pb::QuotaDefinition {
            period: pb::QuotaPeriod::Minute.into(),
            algorithm: pb::RateLimitAlgorithm::SlidingWindow.into(),
            ..definition("api_requests", pb::QuotaKind::Rate, 100)
        },
    ]
}

async fn adjust(client: &mut Quotas, parent: &str, cost: i64) -> Result<i64, tonic::Status> {
    allocate(
        client,
        parent,
        &[("seats", cost)],
        pb::QuotaMode::Adjust,
        "",
    )
    .await
    .map(|answer| answer.results[0].used)
}

async fn check(
    client: &mut Quotas,
    parent: &str,
    quota: &str,
    cost: i64,
) -> Result<i64, tonic::Status> {
    client
        .check_quota(pb::CheckQuotaRequest {
            parent: parent.to_owned(),
            costs: costs(&[(quota, cost)]),
            mode: pb::QuotaMode::AllOrNothing.into(),
            request_id: String::new(),
        })
        .await
        .map(|answer| answer.into_inner().results[0].used)
}

#[track_caller]
fn assert_refused_cost(result: Result<i64, tonic::Status>) {
    let status = result.expect_err("refused");
    assert_eq!(invalid_fields(&status), ["costs[0].cost"], "{status:?}");
}

/// The repro, then the counter's exact maximum and floor.
async fn hostile_charges(client: &mut Quotas, hostile: &str) {
    for _ in 0..2 {
        assert_refused_cost(adjust(client, hostile, i64::MAX).await);
    }
    assert_refused_cost(adjust(client, hostile, i64::MIN).await);
    assert_refused_cost(adjust(client, hostile, MAX_AMOUNT + 1).await);
    assert_eq!(used(client, hostile, "seats").await, 0);

    // Up to the maximum exactly (beyond what Lua prints with 14 digits),
    // then not one unit further: the refusal changes nothing.
    for step in 1..=4 {
        let after = adjust(client, hostile, MAX_AMOUNT).await.expect("fits");
        assert_eq!(after, step * MAX_AMOUNT);
    }
    assert_refused_cost(adjust(client, hostile, 1).await);
    assert_eq!(used(client, hostile, "seats").await, MAX_USAGE);
    // Still over its limit of 10: the tenant has not escaped its quota.
    let over = allocate(
        client,
        hostile,
        &[("seats", 1)],
        pb::QuotaMode::AllOrNothing,
        "",
    )
    .await
    .expect_err("over the limit");
    assert_eq!(over.code(), Code::ResourceExhausted);

    // Corrections and releases stop at zero, never below.
    for _ in 0..3 {
        adjust(client, hostile, -MAX_AMOUNT).await.expect("lowered");
    }
    let released = client
        .release_quota(pb::ReleaseQuotaRequest {
            parent: hostile.to_owned(),
            costs: costs(&[("seats", MAX_AMOUNT)]),
            request_id: String::new(),
        })
        .await
        .expect("released")
        .into_inner();
    assert_eq!(released.results[0].used, 0);
    assert_eq!(
        adjust(client, hostile, -MAX_AMOUNT).await.expect("floor"),
        0
    );
    assert_eq!(used(client, hostile, "seats").await, 0);

    // A quota without a ceiling stops at the maximum too.
    for step in 1..=4 {
        let after = check(client, hostile, "events", MAX_AMOUNT)
            .await
            .expect("fits");
        assert_eq!(after, step * MAX_AMOUNT);
    }
    assert_refused_cost(check(client, hostile, "events", MAX_AMOUNT).await);
    assert_eq!(used(client, hostile, "events").await, MAX_USAGE);
}

/// A bucket drained at one token an hour holds 10^15 tokens: its wait is
/// clamped, and Redis, which refuses a non-integer expiry, still answers
/// (rather than the fallback, `degraded`).
async fn slowest_bucket(client: &mut Quotas, hostile: &str) {
    let answer = client
        .check_quota(pb::CheckQuotaRequest {
            parent: hostile.to_owned(),
            costs: costs(&[("slow", MAX_AMOUNT)]),
            mode: pb::QuotaMode::AllOrNothing.into(),
            request_id: String::new(),
        })
        .await
        .expect("a shadow quota never refuses")
        .into_inner();
    assert!(!answer.degraded, "{answer:?}");
    let result = &answer.results[0];
    assert_eq!(result.used, MAX_AMOUNT);
    let reset = result.reset_time.expect("a reset time");
    let years = (reset.seconds - chrono::Utc::now().timestamp()) / (365 * 24 * 3600);
    assert!((99..=100).contains(&years), "{reset:?}");
}

/// Every quota call of the bystander answers normally.
async fn bystander_answers(server: &TestServer, client: &mut Quotas, bystander: &str) {
    assert_eq!(
        check(client, bystander, "api_requests", 1)
            .await
            .expect("check"),
        1
    );
    let seats = allocate(
        client,
        bystander,
        &[("seats", 2)],
        pb::QuotaMode::AllOrNothing,
        "",
    )
    .await
    .expect("allocate");
    assert!(seats.allowed);
    assert_eq!(seats.results[0].used, 2);
    assert_eq!(used(client, bystander, "seats").await, 2);
    let id = bystander.trim_start_matches("tenants/");
    let mut envoy = client_for_envoy(server);
    let answer = ask(&mut envoy, vec![descriptor(&[("tenant_id", id)], None)])
        .await
        .expect("ShouldRateLimit");
    assert_eq!(answer.statuses[0].limit_remaining, 98);
}

fn client_for_envoy(server: &TestServer) -> crate::ratelimit::Client {
    client(server, Credentials::bearer(SERVICE_TOKEN))
}

async fn run(server: TestServer) {
    let hostile = tenant_on_plan(&server, "hostile", hostile_plan()).await;
    let bystander = tenant_on_plan(&server, "bystander", bystander_plan()).await;
    let mut client = quotas(&server);
    hostile_charges(&mut client, &hostile).await;
    slowest_bucket(&mut client, &hostile).await;
    bystander_answers(&server, &mut client, &bystander).await;
    server.stop().await;
}

async fn memory(backend: Backend) {
    run(TestServer::start(backend).await).await;
}

async fn redis(backend: Backend) {
    if redis_available().await {
        let url = redis_url();
        run(TestServer::start_with(backend, |config| config.redis_url = Some(url)).await).await;
    }
}

crate::backend_tests!(memory, redis);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster() {
    let Some(cluster) = LocalCluster::start() else {
        return;
    };
    let urls = cluster.urls();
    let server = TestServer::start_with(Backend::Sqlite, |config| {
        config.redis_url = Some(urls);
        config.redis_cluster = true;
    })
    .await;
    run(server).await;
    drop(cluster);
}
