//! The metrics test's server (the real binary) and the calls of its
//! workload.

use std::process::{Child, Stdio};

use tenantd::pb;
use tenantd::pb::config_service_client::ConfigServiceClient;
use tenantd::pb::quota_service_client::QuotaServiceClient;
use tenantd::pb::tenant_service_client::TenantServiceClient;
use tenantd::pb::usage_service_client::UsageServiceClient;
use tonic::Code;
use tonic::transport::Channel;

use crate::process::{free_port, tenantd, wait_until_serving};
use crate::support::db::TestDatabase;
use crate::support::usage::usage_event;

const TOKEN: &str = "metrics-test-admin-token-7d2e9a";
/// A service's token: services' calls spend their tenant's budget.
const SERVICE: &str = "metrics-test-service-token-41c0b8";
/// Tenants that keep their own label.
pub(super) const LABELS: usize = 5;
/// Tenants in the fleet.
pub(super) const FLEET: usize = 1_000;
/// Calls per second per tenant on the replica.
pub(super) const RATE: u32 = 40;

fn authorized<T>(message: T, tenant: Option<&str>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let metadata = request.metadata_mut();
    metadata.insert(
        "authorization",
        format!("Bearer {TOKEN}").parse().expect("ascii"),
    );
    if let Some(tenant) = tenant {
        metadata.insert("x-tenant-id", tenant.parse().expect("ascii"));
    }
    request
}

pub(super) struct Served {
    child: Child,
    pub(super) channel: Channel,
    pub(super) metrics_port: u16,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(super) async fn serve(database: &TestDatabase, redis_url: &str) -> Served {
    let port = free_port();
    let metrics_port = free_port();
    let mut child = tenantd()
        .env("TENANTD_DATABASE_URL", &database.url)
        .env("TENANTD_MIGRATION_DATABASE_URL", &database.owner_url)
        .env("TENANTD_LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("TENANTD_METRICS_ADDR", format!("127.0.0.1:{metrics_port}"))
        .env("TENANTD_METRICS_TENANT_LABELS", LABELS.to_string())
        .env("TENANTD_METRICS_TENANT_RANKING_SECONDS", "1")
        .env("TENANTD_TENANT_RATE_LIMIT", RATE.to_string())
        .env("TENANTD_ADMIN_TOKENS", format!("ops={TOKEN}"))
        .env("TENANTD_SERVICE_TOKENS", format!("billing={SERVICE}"))
        .env("TENANTD_REDIS_URL", redis_url)
        .env("TENANTD_REDIS_FAILURE", "closed")
        .env("TENANTD_USAGE_AGGREGATION_INTERVAL_MS", "100")
        .env("TENANTD_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tenantd");
    wait_until_serving(port, &mut child).await;
    let channel = crate::process::connect(port).await;
    Served {
        child,
        channel,
        metrics_port,
    }
}

fn quota(key: &str, limit: i64, shadow: bool) -> pb::QuotaDefinition {
    pb::QuotaDefinition {
        key: key.to_owned(),
        kind: pb::QuotaKind::Rate.into(),
        limit,
        period: pb::QuotaPeriod::Hour.into(),
        shadow,
        ..Default::default()
    }
}

pub(super) async fn create_metric(channel: &Channel) {
    let metric = pb::CreateMetricRequest {
        metric: Some(pb::Metric {
            display_name: "API calls".to_owned(),
            unit: "{call}".to_owned(),
            aggregation: pb::MetricAggregation::Sum.into(),
            ..Default::default()
        }),
        metric_id: "api_calls".to_owned(),
        request_id: String::new(),
    };
    UsageServiceClient::new(channel.clone())
        .create_metric(authorized(metric, None))
        .await
        .expect("create metric");
}

pub(super) async fn create_plan(channel: &Channel) {
    let plan = pb::Plan {
        display_name: "Metered".to_owned(),
        quotas: vec![
            quota("calls", 3, false),
            quota("shadowed", 1, true),
            pb::QuotaDefinition {
                key: "daily_calls".to_owned(),
                kind: pb::QuotaKind::Periodic.into(),
                limit: 2,
                period: pb::QuotaPeriod::Day.into(),
                usage_metric: "api_calls".to_owned(),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let request = pb::CreatePlanRequest {
        plan: Some(plan),
        plan_id: "metered".to_owned(),
        request_id: String::new(),
    };
    QuotaServiceClient::new(channel.clone())
        .create_plan(authorized(request, None))
        .await
        .expect("create plan");
}

pub(super) async fn create_tenant(channel: Channel, slug: String, plan: &str) -> pb::Tenant {
    let request = pb::CreateTenantRequest {
        tenant: Some(pb::Tenant {
            slug,
            plan: plan.to_owned(),
            ..Default::default()
        }),
        ..Default::default()
    };
    TenantServiceClient::new(channel)
        .create_tenant(authorized(request, None))
        .await
        .expect("create tenant")
        .into_inner()
}

/// Creates the fleet, a few at a time; answers their ids in creation order.
pub(super) async fn create_fleet(channel: &Channel) -> Vec<String> {
    let mut ids = Vec::with_capacity(FLEET);
    for chunk in (0..FLEET).collect::<Vec<_>>().chunks(10) {
        let creations = chunk.iter().map(|index| {
            tokio::spawn(create_tenant(
                channel.clone(),
                format!("fleet-{index}"),
                "metered",
            ))
        });
        for created in futures_join(creations).await {
            ids.push(created.id);
        }
    }
    ids
}

pub(super) async fn futures_join<T: Send + 'static>(
    handles: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut done = Vec::new();
    for handle in handles {
        done.push(handle.await.expect("task"));
    }
    done
}

/// GetTenant for `tenant`, as the operator naming it: the call's code.
pub(super) async fn get_tenant(channel: &Channel, tenant: &str) -> Code {
    let request = pb::GetTenantRequest {
        name: format!("tenants/{tenant}"),
    };
    match TenantServiceClient::new(channel.clone())
        .get_tenant(authorized(request, Some(tenant)))
        .await
    {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

/// GetConfig for `tenant`, as a service: the call's code.
pub(super) async fn get_config(channel: &Channel, tenant: &str) -> Code {
    let mut request = tonic::Request::new(pb::GetConfigRequest {
        name: format!("tenants/{tenant}/config"),
        view: 0,
    });
    let metadata = request.metadata_mut();
    metadata.insert(
        "authorization",
        format!("Bearer {SERVICE}").parse().expect("ascii"),
    );
    metadata.insert("x-tenant-id", tenant.parse().expect("ascii"));
    match ConfigServiceClient::new(channel.clone())
        .get_config(request)
        .await
    {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

pub(super) async fn check_quota(channel: &Channel, tenant: &str, key: &str) -> Code {
    let request = pb::CheckQuotaRequest {
        parent: format!("tenants/{tenant}"),
        costs: vec![pb::QuotaCost {
            quota: key.to_owned(),
            cost: 1,
        }],
        ..Default::default()
    };
    match QuotaServiceClient::new(channel.clone())
        .check_quota(authorized(request, Some(tenant)))
        .await
    {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

pub(super) async fn report_usage(channel: &Channel, tenant: &str) {
    let mut usage = UsageServiceClient::new(channel.clone());
    let tenant = format!("tenants/{tenant}");
    let event = |id: &str, metric: &str| usage_event(id, &tenant, metric, 1.0, chrono::Utc::now());
    let events = vec![
        event("e1", "api_calls"),
        event("e2", "api_calls"),
        event("e1", "api_calls"),
        event("e3", "no_such_metric"),
    ];
    let answer = usage
        .report_usage(authorized(pb::ReportUsageRequest { events }, None))
        .await
        .expect("report usage")
        .into_inner();
    assert_eq!(
        (
            answer.accepted_count,
            answer.duplicate_count,
            answer.rejected_count
        ),
        (2, 1, 1)
    );
}
