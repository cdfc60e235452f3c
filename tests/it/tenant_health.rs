//! Per-tenant service levels: GetTenantHealth shows one tenant's injected
//! server-side failures and not another's; plans' objectives
//! (`objectives`); replicas on one database and the operator command
//! (`replicas`). The helpers every part shares are here.

mod objectives;
mod replicas;

use std::time::Duration;

use tenantd::pb;
use tenantd::pb::quota_service_client::QuotaServiceClient;
use tenantd::quota::limiter::RedisFailure;
use tonic::Code;

use crate::quota::{costs, definition, quotas};
use crate::quota_failure::PrivateRedis;
use crate::support::fixtures::{name_request, tenant};
use crate::support::server::Credentials;
use crate::support::{Backend, TestServer};

crate::backend_tests!(health_shows_one_tenants_failures_and_not_anothers);

/// Counts quota checks in `redis`, answering UNAVAILABLE while it is
/// away.
fn fail_closed(config: &mut tenantd::settings::Config, redis: &PrivateRedis) {
    config.redis_url = Some(redis.url());
    config.redis_failure = RedisFailure::Closed;
}

/// A proto duration of `millis` milliseconds.
fn millis(millis: i64) -> prost_types::Duration {
    prost_types::Duration {
        seconds: millis / 1000,
        nanos: i32::try_from((millis % 1000) * 1_000_000).expect("nanos"),
    }
}

/// Three nines, 99 % within `threshold_millis`.
pub fn objectives(threshold_millis: i64) -> pb::ServiceObjectives {
    pb::ServiceObjectives {
        availability: 0.999,
        latency_threshold: Some(millis(threshold_millis)),
        latency_target: 0.99,
    }
}

/// Creates plan `id`: three nines, 99 % within a second, and a RATE quota
/// `api_requests` of 1000 a second.
async fn create_plan(server: &TestServer, id: &str) {
    let rate = pb::QuotaDefinition {
        period: pb::QuotaPeriod::Second.into(),
        ..definition("api_requests", pb::QuotaKind::Rate, 1000)
    };
    quotas(server)
        .create_plan(pb::CreatePlanRequest {
            plan: Some(pb::Plan {
                display_name: id.to_owned(),
                quotas: vec![rate],
                objectives: Some(objectives(1000)),
                ..Default::default()
            }),
            plan_id: id.to_owned(),
            request_id: String::new(),
        })
        .await
        .expect("create a plan with objectives");
}

/// Creates tenant `slug` on plan `plan`, with id `id` when given.
async fn tenant_on(
    server: &TestServer,
    plan: &str,
    slug: &str,
    id: Option<uuid::Uuid>,
) -> pb::Tenant {
    let mut new = tenant(slug);
    new.plan = plan.to_owned();
    server
        .tenants()
        .create_tenant(pb::CreateTenantRequest {
            tenant: Some(new),
            tenant_id: id.map(|id| id.to_string()).unwrap_or_default(),
            ..Default::default()
        })
        .await
        .expect("create tenant")
        .into_inner()
}

/// A new API key of tenant `parent` with `scopes`: its secret.
async fn issue_key(server: &TestServer, parent: &str, scopes: &[&str]) -> String {
    server
        .tenants()
        .create_api_key(pb::CreateApiKeyRequest {
            parent: parent.to_owned(),
            api_key: Some(pb::ApiKey {
                display_name: "service levels".into(),
                scopes: scopes.iter().map(|scope| (*scope).to_owned()).collect(),
                ..Default::default()
            }),
        })
        .await
        .expect("create API key")
        .into_inner()
        .secret
}

/// GetTenant of `name` with API key `key`.
async fn get_tenant(
    server: &TestServer,
    key: &str,
    name: &str,
) -> Result<pb::Tenant, tonic::Status> {
    server
        .tenants_as(Credentials::bearer(key))
        .get_tenant(name_request(name))
        .await
        .map(tonic::Response::into_inner)
}

/// One CheckQuota of `api_requests` for `parent` with API key `key`.
async fn check_quota(
    server: &TestServer,
    key: &str,
    parent: &str,
) -> Result<pb::CheckQuotaResponse, tonic::Status> {
    QuotaServiceClient::with_interceptor(server.channel.clone(), Credentials::bearer(key))
        .check_quota(pb::CheckQuotaRequest {
            parent: parent.to_owned(),
            costs: costs(&[("api_requests", 1)]),
            mode: pb::QuotaMode::AllOrNothing.into(),
            request_id: String::new(),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// GetTenantHealth of `name`, as the operator.
async fn health(server: &TestServer, name: &str) -> pb::TenantHealth {
    server
        .tenants()
        .get_tenant_health(pb::GetTenantHealthRequest {
            name: name.to_owned(),
        })
        .await
        .expect("GetTenantHealth")
        .into_inner()
}

/// GetTenantHealth of `name` once its day counts `requests` calls: other
/// replicas' calls arrive with their flushes.
async fn until_counted(server: &TestServer, name: &str, requests: i64) -> pb::TenantHealth {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let answer = health(server, name).await;
        if answer.windows[1].requests >= requests {
            return answer;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{requests} calls never counted: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn health_shows_one_tenants_failures_and_not_anothers(backend: Backend) {
    let Some(mut redis) = PrivateRedis::start() else {
        return;
    };
    // With Redis gone, quota checks answer UNAVAILABLE.
    let server = TestServer::start_with(backend, |config| fail_closed(config, &redis)).await;
    create_plan(&server, "measured").await;
    let failing = tenant_on(&server, "measured", "failing", None).await;
    let healthy = tenant_on(&server, "measured", "healthy", None).await;
    let failing_key = issue_key(&server, &failing.name, &["quota:check"]).await;
    let healthy_key = issue_key(&server, &healthy.name, &["tenant:read", "quota:check"]).await;
    for (key, name) in [(&failing_key, &failing.name), (&healthy_key, &healthy.name)] {
        let answer = check_quota(&server, key, name)
            .await
            .expect("Redis answers");
        assert!(answer.allowed);
    }

    redis.stop();
    for _ in 0..3 {
        let refused = check_quota(&server, &failing_key, &failing.name).await;
        assert_eq!(refused.unwrap_err().code(), Code::Unavailable);
    }
    // Calls that need no Redis go on succeeding.
    for _ in 0..4 {
        get_tenant(&server, &healthy_key, &healthy.name)
            .await
            .expect("read the tenant");
    }

    // By slug, as GetTenant takes it; answered by id.
    let failing_health = health(&server, "tenants/slug:failing").await;
    assert_eq!(failing_health.name, failing.name);
    assert_eq!(failing_health.objectives, Some(objectives(1000)));
    let lengths: Vec<i64> = failing_health
        .windows
        .iter()
        .map(|window| window.length.expect("a length").seconds)
        .collect();
    assert_eq!(lengths, [3600, 86_400]);
    for window in &failing_health.windows {
        assert_eq!((window.requests, window.failures), (4, 3), "{window:?}");
        assert_eq!(window.error_ratio, 0.75);
        let availability = window.availability.expect("the plan's objectives");
        assert!(!availability.met, "{availability:?}");
        assert_eq!(availability.achieved, 0.25);
        assert!(
            availability.error_budget_remaining < 0.0,
            "{availability:?}"
        );
    }

    let healthy_health = health(&server, &healthy.name).await;
    for window in &healthy_health.windows {
        assert_eq!((window.requests, window.failures), (5, 0), "{window:?}");
        assert_eq!(window.error_ratio, 0.0);
        let p99 = window.latency_p99.expect("a p99 of five calls");
        assert!(p99.seconds <= 1, "{p99:?}");
        let availability = window.availability.expect("the plan's objectives");
        assert!(availability.met);
        assert_eq!(availability.error_budget_remaining, 1.0);
        let latency = window.latency.expect("the plan's objectives");
        assert!(
            latency.met,
            "five quick calls are within a second: {latency:?}"
        );
    }
    server.stop().await;
}
