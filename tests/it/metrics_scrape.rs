//! `/metrics` as Prometheus scrapes it, after a scripted workload against
//! the real binary (the recorder is process-wide, so the server runs as
//! its own process): every family is there with its type and labels, the
//! counters moved by exactly what the workload did, 1,000 tenants leave
//! at most K + 1 tenant label values, and the chart's rules and dashboard
//! name only families the scrape has. PostgreSQL (for SCHEMA provisioning)
//! and a private `redis-server` (stopped mid-test for server failures).

use std::collections::{BTreeSet, HashMap};
use std::process::{Child, Stdio};
use std::time::Duration;

use prometheus_parse::{Sample, Scrape, Value};
use tenantd::pb;
use tenantd::pb::config_service_client::ConfigServiceClient;
use tenantd::pb::quota_service_client::QuotaServiceClient;
use tenantd::pb::tenant_service_client::TenantServiceClient;
use tenantd::pb::usage_service_client::UsageServiceClient;
use tonic::Code;
use tonic::transport::Channel;

use crate::process::{free_port, http_get, tenantd, wait_until_serving};
use crate::quota_failure::PrivateRedis;
use crate::support::Backend;
use crate::support::db::{TestDatabase, postgres_available};
use crate::support::usage::usage_event;

const TOKEN: &str = "metrics-test-admin-token-7d2e9a";
/// A service's token: services' calls spend their tenant's budget.
const SERVICE: &str = "metrics-test-service-token-41c0b8";
/// Tenants that keep their own label.
const LABELS: usize = 5;
/// Tenants in the fleet.
const FLEET: usize = 1_000;
/// Calls per second per tenant on the replica.
const RATE: u32 = 40;

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

struct Served {
    child: Child,
    channel: Channel,
    metrics_port: u16,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn serve(database: &TestDatabase, redis_url: &str) -> Served {
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

async fn create_metric(channel: &Channel) {
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

async fn create_plan(channel: &Channel) {
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

async fn create_tenant(channel: Channel, slug: String, plan: &str) -> pb::Tenant {
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
async fn create_fleet(channel: &Channel) -> Vec<String> {
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

async fn futures_join<T: Send + 'static>(
    handles: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut done = Vec::new();
    for handle in handles {
        done.push(handle.await.expect("task"));
    }
    done
}

/// GetTenant for `tenant`, as the operator naming it: the call's code.
async fn get_tenant(channel: &Channel, tenant: &str) -> Code {
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
async fn get_config(channel: &Channel, tenant: &str) -> Code {
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

async fn check_quota(channel: &Channel, tenant: &str, key: &str) -> Code {
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

async fn report_usage(channel: &Channel, tenant: &str) {
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

fn scrape(port: u16) -> Scrape {
    let answer = http_get(port, "/metrics");
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    let lines = body.lines().map(|line| Ok(line.to_owned()));
    Scrape::parse(lines).expect("the Prometheus text format")
}

fn samples<'s>(scrape: &'s Scrape, name: &str) -> Vec<&'s Sample> {
    scrape
        .samples
        .iter()
        .filter(|sample| sample.metric == name)
        .collect()
}

fn counter(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<f64> = samples(scrape, name)
        .into_iter()
        .filter(|sample| {
            labels
                .iter()
                .all(|(key, value)| sample.labels.get(key) == Some(value))
        })
        .map(|sample| match sample.value {
            Value::Counter(value) => value,
            ref other => panic!("{name} is not a counter: {other:?}"),
        })
        .collect();
    assert_eq!(found.len(), 1, "one {name} series with {labels:?}");
    found[0]
}

/// The count of the one histogram series of `name` with `labels`.
fn histogram_count(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> u64 {
    let found: Vec<u64> = samples(scrape, name)
        .into_iter()
        .filter(|sample| {
            labels
                .iter()
                .all(|(key, value)| sample.labels.get(key) == Some(value))
        })
        .map(|sample| match &sample.value {
            Value::Histogram(buckets) => {
                let infinite = buckets.iter().find(|bucket| bucket.less_than.is_infinite());
                infinite.expect("a +Inf bucket").count as u64
            }
            other => panic!("{name} is not a histogram: {other:?}"),
        })
        .collect();
    assert_eq!(found.len(), 1, "one {name} series with {labels:?}");
    found[0]
}

fn label_values(scrape: &Scrape, name: &str, label: &str) -> BTreeSet<String> {
    samples(scrape, name)
        .into_iter()
        .filter_map(|sample| sample.labels.get(label).map(str::to_owned))
        .collect()
}

/// Every family name a file of the chart uses, as a series name would be
/// written in PromQL (histograms by their `_bucket`, `_sum`, `_count`).
fn chart_metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut start = 0;
    while let Some(found) = text[start..].find("tenantd_") {
        let begin = start + found;
        let boundary = begin == 0
            || !(bytes[begin - 1].is_ascii_alphanumeric()
                || bytes[begin - 1] == b'_'
                || bytes[begin - 1] == b':');
        let end = text[begin..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(text.len(), |length| begin + length);
        if boundary {
            let name = &text[begin..end];
            let family = ["_bucket", "_count", "_sum"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .unwrap_or(name);
            names.insert(family.to_owned());
        }
        start = end;
    }
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_after_a_workload_has_every_family_and_bounded_tenant_labels() {
    if !postgres_available().await {
        return;
    }
    let Some(mut redis) = PrivateRedis::start() else {
        return;
    };
    let database = TestDatabase::create(Backend::Postgres).await;
    let served = serve(&database, &redis.url()).await;
    let channel = &served.channel;

    create_metric(channel).await;
    create_plan(channel).await;
    let fleet = create_fleet(channel).await;
    let schema = create_tenant(channel.clone(), "schema-one".to_owned(), "professional").await;
    assert_eq!(schema.state(), pb::TenantState::Active, "{schema:?}");
    // Every tenant calls once; the first LABELS of them take the free labels.
    for tenant in &fleet {
        assert_eq!(get_tenant(channel, tenant).await, Code::Ok);
    }
    // Three tenants far from the first become the busiest.
    let busiest: Vec<&String> = fleet[FLEET - 3..].iter().collect();
    for tenant in &busiest {
        for _ in 0..20 {
            assert_eq!(get_tenant(channel, tenant).await, Code::Ok);
        }
    }
    // Two rankings later they hold labels of their own, from zero.
    tokio::time::sleep(Duration::from_millis(2_500)).await;

    // One tenant bursts past its share of the replica.
    let mut bursts = HashMap::new();
    let burster = busiest[0];
    for _ in 0..(RATE * 3) {
        *bursts
            .entry(get_config(channel, burster).await)
            .or_insert(0_u64) += 1;
    }
    let refused = bursts.get(&Code::ResourceExhausted).copied().unwrap_or(0);
    assert!(refused > 0, "{bursts:?}");
    // Quota decisions: 3 of 5 allowed; a shadow quota lets its excess through.
    let quota_tenant = busiest[1];
    let decided: Vec<Code> = futures_join(std::iter::repeat_n((), 5).map(|()| {
        let channel = channel.clone();
        let tenant = quota_tenant.clone();
        tokio::spawn(async move { check_quota(&channel, &tenant, "calls").await })
    }))
    .await;
    let allowed = decided.iter().filter(|code| **code == Code::Ok).count();
    assert_eq!(allowed, 3, "{decided:?}");
    for _ in 0..2 {
        assert_eq!(
            check_quota(channel, quota_tenant, "shadowed").await,
            Code::Ok
        );
    }
    report_usage(channel, quota_tenant).await;
    // Redis goes away: a third tenant's checks fail on the server's side.
    let failing = busiest[2];
    redis.stop();
    for _ in 0..4 {
        assert_eq!(
            check_quota(channel, failing, "calls").await,
            Code::Unavailable
        );
    }
    // Aggregation folds the reported events; their tenant's allowance of 2
    // is then crossed at 80 % and at 100 %.
    let mut scraped = scrape(served.metrics_port);
    for _ in 0..100 {
        let crossed = |threshold| {
            counter(
                &scraped,
                "tenantd_usage_allowance_crossed_total",
                &[("threshold", threshold)],
            )
        };
        if crossed("80") >= 1.0 && crossed("100") >= 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        scraped = scrape(served.metrics_port);
    }
    for threshold in ["80", "100"] {
        assert_eq!(
            counter(
                &scraped,
                "tenantd_usage_allowance_crossed_total",
                &[("threshold", threshold)]
            ),
            1.0
        );
    }
    let get_ok = [
        ("grpc_service", "tenantd.v1.TenantService"),
        ("grpc_method", "GetTenant"),
        ("grpc_code", "OK"),
    ];
    let expected_oks = FLEET as u64 + 3 * 20;
    assert_eq!(
        histogram_count(
            &scraped,
            "tenantd_rpc_server_call_duration_seconds",
            &get_ok
        ),
        expected_oks
    );
    let unavailable = [("grpc_method", "CheckQuota"), ("grpc_code", "UNAVAILABLE")];
    assert_eq!(
        histogram_count(
            &scraped,
            "tenantd_rpc_server_call_duration_seconds",
            &unavailable
        ),
        4
    );

    // The cardinality guard: K tenants and `other`, the busiest among them.
    let tenants = label_values(&scraped, "tenantd_tenant_requests_total", "tenant");
    assert!(tenants.len() <= LABELS + 1, "{tenants:?}");
    for tenant in busiest.iter().map(|id| id.as_str()).chain(["other"]) {
        assert!(tenants.contains(tenant), "{tenant} in {tenants:?}");
    }
    for family in [
        "tenantd_tenant_errors_total",
        "tenantd_tenant_request_duration_seconds",
    ] {
        assert_eq!(
            label_values(&scraped, family, "tenant"),
            tenants,
            "{family}"
        );
    }
    assert!(
        counter(
            &scraped,
            "tenantd_tenant_requests_total",
            &[("tenant", "other")]
        ) >= (FLEET - LABELS) as f64
    );
    assert_eq!(
        counter(
            &scraped,
            "tenantd_tenant_errors_total",
            &[("tenant", failing)]
        ),
        4.0
    );
    assert_eq!(
        counter(
            &scraped,
            "tenantd_tenant_errors_total",
            &[("tenant", burster)]
        ),
        0.0
    );
    // Its series began when a ranking promoted it, during its first 20
    // calls or after them; refused calls are answers too.
    let burster_calls = counter(
        &scraped,
        "tenantd_tenant_requests_total",
        &[("tenant", burster)],
    );
    let burst = f64::from(RATE * 3);
    assert!(
        (burst..=burst + 20.0).contains(&burster_calls),
        "{burster_calls}"
    );

    // Quotas, the limiter, Redis.
    let decisions = |quota: &str, outcome: &str| {
        counter(
            &scraped,
            "tenantd_quota_decisions_total",
            &[("quota", quota), ("outcome", outcome)],
        )
    };
    assert_eq!(decisions("calls", "allowed"), 3.0);
    assert_eq!(decisions("calls", "refused"), 2.0);
    assert_eq!(decisions("shadowed", "allowed"), 1.0);
    assert_eq!(decisions("shadowed", "shadow"), 1.0);
    assert_eq!(
        histogram_count(
            &scraped,
            "tenantd_limiter_duration_seconds",
            &[("backend", "redis")]
        ),
        5 + 2 + 4
    );
    assert_eq!(
        counter(
            &scraped,
            "tenantd_quota_redis_failures_total",
            &[("policy", "closed")]
        ),
        4.0
    );
    assert_eq!(
        counter(&scraped, "tenantd_bulkhead_refusals_total", &[]),
        refused as f64
    );

    // Caches, the database, usage, provisioning.
    assert!(
        counter(
            &scraped,
            "tenantd_cache_requests_total",
            &[("cache", "tenants"), ("result", "hit")]
        ) > 0.0
    );
    assert!(
        counter(
            &scraped,
            "tenantd_cache_requests_total",
            &[("cache", "tenants"), ("result", "miss")]
        ) > 0.0
    );
    for mode in ["read", "write"] {
        assert!(
            histogram_count(
                &scraped,
                "tenantd_db_transaction_duration_seconds",
                &[("mode", mode)]
            ) > 0
        );
    }
    let ingested = |outcome: &str| {
        counter(
            &scraped,
            "tenantd_usage_events_ingested_total",
            &[("outcome", outcome)],
        )
    };
    assert_eq!(
        (
            ingested("accepted"),
            ingested("duplicate"),
            ingested("rejected")
        ),
        (2.0, 1.0, 1.0)
    );
    assert!(counter(&scraped, "tenantd_usage_events_aggregated_total", &[]) >= 2.0);
    let lag = samples(&scraped, "tenantd_usage_aggregation_lag_seconds");
    assert!(
        matches!(lag.as_slice(), [sample] if matches!(sample.value, Value::Gauge(seconds) if (0.0..30.0).contains(&seconds))),
        "{lag:?}"
    );
    assert_eq!(
        histogram_count(
            &scraped,
            "tenantd_provisioning_duration_seconds",
            &[("outcome", "succeeded")]
        ),
        1
    );
    assert_eq!(
        counter(&scraped, "tenantd_provisioning_failures_total", &[]),
        0.0
    );

    // The chart's rules and dashboard name only what tenantd exports.
    let exported: BTreeSet<String> = scraped
        .samples
        .iter()
        .map(|sample| sample.metric.clone())
        .collect();
    let root = env!("CARGO_MANIFEST_DIR");
    for file in [
        "helm/tenantd/files/rules.yaml",
        "helm/tenantd/files/dashboard.json",
    ] {
        let text = std::fs::read_to_string(format!("{root}/{file}")).expect("read the chart file");
        let used = chart_metric_names(&text);
        assert!(used.len() >= 4, "{file} names {used:?}");
        let missing: Vec<&String> = used.difference(&exported).collect();
        assert!(
            missing.is_empty(),
            "{file} names metrics the scrape lacks: {missing:?}"
        );
    }
    drop(served);
    database.drop_database().await;
}
