//! `/metrics` as Prometheus scrapes it, after a scripted workload against
//! the real binary (the recorder is process-wide, so the server runs as
//! its own process): every family is there with its type and labels, the
//! counters moved by exactly what the workload did, 1,000 tenants leave
//! at most K + 1 tenant label values, and the chart's rules and dashboard
//! name only families the scrape has. PostgreSQL (for SCHEMA provisioning)
//! and a private `redis-server` (stopped mid-test for server failures).

mod reading;
mod workload;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use prometheus_parse::Value;
use tenantd::pb;
use tonic::Code;

use crate::quota_failure::PrivateRedis;
use crate::support::Backend;
use crate::support::db::{TestDatabase, postgres_available};
use reading::{chart_metric_names, counter, histogram_count, label_values, samples, scrape};
use workload::{
    FLEET, LABELS, RATE, check_quota, create_fleet, create_metric, create_plan, create_tenant,
    futures_join, get_config, get_tenant, report_usage, serve,
};

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
