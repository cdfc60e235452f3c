//! QuotaService over real gRPC: plans, and atomic quota checks on the
//! in-process limiter and on Redis (the same suite on both). Redis tests
//! are skipped when no Redis answers, except under `CI=true`, where they
//! fail. Tenant ids are unique per test and every Redis key carries its
//! tenant's id, so tests share one Redis without flushing anything.

mod atomic;

use std::time::Duration;

use tenantd::pb;
use tenantd::pb::quota_service_client::QuotaServiceClient;
use tokio::time::Instant;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic_types::StatusExt;

use crate::support::fixtures::tenant;
use crate::support::server::{ADMIN_TOKEN, Credentials};
use crate::support::status::assert_error;
use crate::support::{Backend, TestServer};

pub type Quotas = QuotaServiceClient<InterceptedService<Channel, Credentials>>;

/// Which limiter a test server counts with.
#[derive(Debug, Clone, Copy)]
pub enum Counters {
    Memory,
    Redis,
}

pub fn redis_url() -> String {
    std::env::var("TENANTD_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// Whether Redis tests can run; under `CI=true` they must.
pub async fn redis_available() -> bool {
    let ping = async {
        let client = redis::Client::open(redis_url())?;
        let mut connection = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
    };
    match ping.await {
        Ok(_) => true,
        Err(error) if std::env::var("CI").is_ok_and(|value| value == "true" || value == "1") => {
            panic!("Redis is required under CI=true: {error}")
        }
        Err(error) => {
            eprintln!("skipping Redis tests, no server at TENANTD_TEST_REDIS_URL: {error}");
            false
        }
    }
}

/// Runs each `async fn(Counters)` on the in-process limiter and on Redis.
#[macro_export]
macro_rules! limiter_tests {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn memory() {
                    super::$name($crate::quota::Counters::Memory).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn redis() {
                    let postgres = $crate::support::db::postgres_available().await;
                    if $crate::quota::redis_available().await && postgres {
                        super::$name($crate::quota::Counters::Redis).await;
                    }
                }
            }
        )+
    };
}

/// A server counting with `counters`: on SQLite for the in-process
/// limiter, on PostgreSQL for Redis, where two replicas share the database.
pub async fn start(counters: Counters) -> TestServer {
    let backend = match counters {
        Counters::Memory => Backend::Sqlite,
        Counters::Redis => Backend::Postgres,
    };
    TestServer::start_with(backend, |config| {
        if let Counters::Redis = counters {
            config.redis_url = Some(redis_url());
        }
    })
    .await
}

pub fn quotas(server: &TestServer) -> Quotas {
    QuotaServiceClient::with_interceptor(server.channel.clone(), Credentials::bearer(ADMIN_TOKEN))
}

pub fn definition(key: &str, kind: pb::QuotaKind, limit: i64) -> pb::QuotaDefinition {
    pb::QuotaDefinition {
        key: key.to_owned(),
        display_name: key.to_owned(),
        kind: kind.into(),
        limit,
        ..Default::default()
    }
}

fn rate(key: &str, limit: i64) -> pb::QuotaDefinition {
    pb::QuotaDefinition {
        period: pb::QuotaPeriod::Second.into(),
        algorithm: pb::RateLimitAlgorithm::SlidingWindow.into(),
        ..definition(key, pb::QuotaKind::Rate, limit)
    }
}

/// Creates plan `id` with `quotas` and a tenant on it; the tenant's name.
pub async fn tenant_on_plan(
    server: &TestServer,
    id: &str,
    quotas_of_plan: Vec<pb::QuotaDefinition>,
) -> String {
    quotas(server)
        .create_plan(pb::CreatePlanRequest {
            plan: Some(pb::Plan {
                display_name: id.to_owned(),
                quotas: quotas_of_plan,
                ..Default::default()
            }),
            plan_id: id.to_owned(),
            request_id: String::new(),
        })
        .await
        .expect("create plan");
    let mut new = tenant(&format!("{id}-tenant"));
    new.plan = id.to_owned();
    server
        .tenants()
        .create_tenant(pb::CreateTenantRequest {
            tenant: Some(new),
            ..Default::default()
        })
        .await
        .expect("create tenant")
        .into_inner()
        .name
}

pub fn costs(pairs: &[(&str, i64)]) -> Vec<pb::QuotaCost> {
    pairs
        .iter()
        .map(|(quota, cost)| pb::QuotaCost {
            quota: (*quota).to_owned(),
            cost: *cost,
        })
        .collect()
}

pub async fn used(client: &mut Quotas, parent: &str, quota: &str) -> i64 {
    let status = client
        .get_quota_status(pb::GetQuotaStatusRequest {
            parent: parent.to_owned(),
            quotas: vec![quota.to_owned()],
        })
        .await
        .expect("quota status")
        .into_inner();
    status.quotas[0].used
}

pub async fn allocate(
    client: &mut Quotas,
    parent: &str,
    pairs: &[(&str, i64)],
    mode: pb::QuotaMode,
    request_id: &str,
) -> Result<pb::AllocateQuotaResponse, tonic::Status> {
    client
        .allocate_quota(pb::AllocateQuotaRequest {
            parent: parent.to_owned(),
            costs: costs(pairs),
            mode: mode.into(),
            request_id: request_id.to_owned(),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// 200 concurrent allocations of 1 against a limit of 50, from two servers
/// sharing the counters (one server for the in-process limiter, which is
/// per replica by design): exactly 50 succeed.
async fn concurrent_allocations(counters: Counters) {
    let first = start(counters).await;
    let second = match counters {
        Counters::Redis => Some(
            TestServer::start_on(first.database(), |config| {
                config.redis_url = Some(redis_url())
            })
            .await,
        ),
        Counters::Memory => None,
    };
    let parent = tenant_on_plan(
        &first,
        "team-50",
        vec![definition("seats", pb::QuotaKind::Allocation, 50)],
    )
    .await;
    let clients = [quotas(&first), quotas(second.as_ref().unwrap_or(&first))];
    let allowed = allocate_concurrently(&clients, &parent, "seats", 200, 50).await;
    assert_eq!(allowed, 50);
    let mut client = quotas(&first);
    assert_eq!(used(&mut client, &parent, "seats").await, 50);
    if let Some(second) = second {
        second.stop().await;
    }
    first.stop().await;
}

/// Sends `calls` allocations of one `quota` at once, spread over
/// `clients`; checks every refusal names the quota and its `limit`, and
/// answers how many were allowed.
pub async fn allocate_concurrently(
    clients: &[Quotas],
    parent: &str,
    quota: &'static str,
    calls: usize,
    limit: i64,
) -> usize {
    let tasks: Vec<_> = (0..calls)
        .map(|index| {
            let mut client = clients[index % clients.len()].clone();
            let parent = parent.to_owned();
            tokio::spawn(async move {
                allocate(
                    &mut client,
                    &parent,
                    &[(quota, 1)],
                    pb::QuotaMode::AllOrNothing,
                    "",
                )
                .await
            })
        })
        .collect();
    let mut allowed = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(answer) => {
                assert!(answer.allowed && !answer.degraded, "{answer:?}");
                allowed += 1;
            }
            Err(status) => {
                assert_error(&status, Code::ResourceExhausted, "QUOTA_EXCEEDED");
                let failure = status.get_details_quota_failure().expect("QuotaFailure");
                assert_eq!(failure.violations[0].quota_id, quota);
                assert_eq!(failure.violations[0].quota_value, limit);
            }
        }
    }
    allowed
}

/// A 10/s rate quota never admits more than 10 within any one second. The
/// server admits each call between its send and its answer, so admissions
/// `i` and `i + 10` are at least a second apart only if the answer to the
/// later one came at least a second after the earlier one was sent.
async fn rate_never_bursts(counters: Counters) {
    let server = start(counters).await;
    let parent = tenant_on_plan(&server, "rated", vec![rate("calls", 10)]).await;
    let mut client = quotas(&server);
    let started = Instant::now();
    let mut admitted: Vec<(Instant, Instant)> = Vec::new();
    while started.elapsed() < Duration::from_millis(2500) {
        let sent = Instant::now();
        let answer = client
            .check_quota(pb::CheckQuotaRequest {
                parent: parent.clone(),
                costs: costs(&[("calls", 1)]),
                mode: pb::QuotaMode::AllOrNothing.into(),
                request_id: String::new(),
            })
            .await;
        let received = Instant::now();
        match answer {
            Ok(_) => admitted.push((sent, received)),
            Err(status) => {
                assert_error(&status, Code::ResourceExhausted, "QUOTA_EXCEEDED");
                assert!(status.get_details_retry_info().is_some());
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
    assert!(admitted.len() >= 20, "admitted {}", admitted.len());
    for window in admitted.windows(11) {
        let span = window[10].1 - window[0].0;
        assert!(
            span >= Duration::from_secs(1),
            "11 admitted within {span:?}"
        );
    }
    server.stop().await;
}

crate::limiter_tests!(concurrent_allocations, rate_never_bursts,);
