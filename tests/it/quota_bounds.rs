//! Every count and size a quota call, a plan, an override or an Envoy
//! descriptor may carry has a documented bound, checked before any other
//! work and refused as INVALID_ARGUMENT naming the field it bounds.

use tenantd::envoy::extensions::common::ratelimit::v3::RateLimitDescriptor;
use tenantd::envoy::service::ratelimit::v3::RateLimitRequest;
use tenantd::pb;
use tenantd::quota::limiter::bounds::MAX_AMOUNT;

use crate::quota::{Counters, costs, definition, quotas, start, tenant_on_plan, used};
use crate::ratelimit::{Client, ask, client, descriptor};
use crate::support::server::{Credentials, SERVICE_TOKEN};
use crate::support::status::invalid_fields;
use crate::support::{Backend, TestServer};

fn check_request(parent: &str, pairs: Vec<(String, i64)>) -> pb::CheckQuotaRequest {
    pb::CheckQuotaRequest {
        parent: parent.to_owned(),
        costs: pairs
            .into_iter()
            .map(|(quota, cost)| pb::QuotaCost { quota, cost })
            .collect(),
        mode: pb::QuotaMode::AllOrNothing.into(),
        request_id: String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_calls_are_bounded() {
    let server = TestServer::start(Backend::Sqlite).await;
    let parent = tenant_on_plan(
        &server,
        "bounded",
        vec![definition("seats", pb::QuotaKind::Allocation, 10)],
    )
    .await;
    let mut client = quotas(&server);
    // Counted first: one violation however many costs, whatever they hold.
    for count in [21, 100_000] {
        let pairs = (0..count).map(|_| ("Not A Key!".to_owned(), -1)).collect();
        let refused = client
            .check_quota(check_request(&parent, pairs))
            .await
            .unwrap_err();
        assert_eq!(invalid_fields(&refused), ["costs"]);
    }
    let long_key = vec![("a".repeat(10_000), 1)];
    let refused = client
        .check_quota(check_request(&parent, long_key))
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&refused), ["costs[0].quota"]);
    let too_much = vec![("seats".to_owned(), MAX_AMOUNT + 1)];
    let refused = client
        .check_quota(check_request(&parent, too_much))
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&refused), ["costs[0].cost"]);
    let refused = client
        .release_quota(pb::ReleaseQuotaRequest {
            parent: parent.clone(),
            costs: costs(&[("seats", i64::MAX)]),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&refused), ["costs[0].cost"]);

    let status = |quotas: Vec<String>| pb::GetQuotaStatusRequest {
        parent: parent.clone(),
        quotas,
    };
    let refused = client
        .get_quota_status(status(vec!["seats".to_owned(); 101]))
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&refused), ["quotas"]);
    let refused = client
        .get_quota_status(status(vec!["x".repeat(64)]))
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&refused), ["quotas[0]"]);
    assert_eq!(
        used(&mut client, &parent, "seats").await,
        0,
        "nothing charged"
    );
    server.stop().await;
}

fn plan_request(quotas: Vec<pb::QuotaDefinition>) -> pb::CreatePlanRequest {
    pb::CreatePlanRequest {
        plan: Some(pb::Plan {
            display_name: "bounded".to_owned(),
            quotas,
            ..Default::default()
        }),
        plan_id: "bounded".to_owned(),
        request_id: String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plans_and_overrides_are_bounded() {
    let server = TestServer::start(Backend::Sqlite).await;
    let mut client = quotas(&server);
    // Counted first: the definitions themselves are not read.
    let many = vec![definition("Not A Key!", pb::QuotaKind::Unspecified, -1); 101];
    let refused = client.create_plan(plan_request(many)).await.unwrap_err();
    assert_eq!(invalid_fields(&refused), ["plan.quotas"]);

    let huge_limit = definition("seats", pb::QuotaKind::Allocation, MAX_AMOUNT + 1);
    let refused = client
        .create_plan(plan_request(vec![huge_limit]))
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&refused), ["plan.quotas[0].limit"]);
    let huge_burst = pb::QuotaDefinition {
        period: pb::QuotaPeriod::Second.into(),
        burst: i64::MAX,
        ..definition("calls", pb::QuotaKind::Rate, 10)
    };
    let refused = client
        .create_plan(plan_request(vec![huge_burst]))
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&refused), ["plan.quotas[0].burst"]);
    let thresholds = pb::QuotaDefinition {
        warning_threshold_percents: (1..=100_000).collect(),
        ..definition("seats", pb::QuotaKind::Allocation, 10)
    };
    let refused = client
        .create_plan(plan_request(vec![thresholds]))
        .await
        .unwrap_err();
    assert_eq!(
        invalid_fields(&refused),
        ["plan.quotas[0].warning_threshold_percents"]
    );
    let at_most = definition("seats", pb::QuotaKind::Allocation, MAX_AMOUNT);
    client
        .create_plan(plan_request(vec![at_most]))
        .await
        .expect("the maximum fits");

    let tenant = uuid::Uuid::now_v7();
    let refused = client
        .set_quota_override(pb::SetQuotaOverrideRequest {
            quota_override: Some(pb::QuotaOverride {
                name: format!("tenants/{tenant}/quotaOverrides/seats"),
                limit: MAX_AMOUNT + 1,
                reason: "a hostile limit".to_owned(),
                ..Default::default()
            }),
            force: false,
        })
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&refused), ["quota_override.limit"]);
    server.stop().await;
}

async fn ask_raw(envoy: &mut Client, request: RateLimitRequest) -> Vec<String> {
    let refused = envoy.should_rate_limit(request).await.unwrap_err();
    invalid_fields(&refused)
}

fn request(descriptors: Vec<RateLimitDescriptor>) -> RateLimitRequest {
    RateLimitRequest {
        domain: "edge".to_owned(),
        descriptors,
        hits_addend: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envoy_descriptors_are_bounded() {
    let server = TestServer::start(Backend::Sqlite).await;
    let mut envoy = client(&server, Credentials::bearer(SERVICE_TOKEN));
    let one = descriptor(&[("generic_key", "x")], None);
    let many = request(vec![one.clone(); 21]);
    assert_eq!(ask_raw(&mut envoy, many).await, ["descriptors"]);
    let entries: Vec<(&str, &str)> = vec![("generic_key", "x"); 33];
    let wide = request(vec![descriptor(&entries, None)]);
    assert_eq!(ask_raw(&mut envoy, wide).await, ["descriptors[0].entries"]);
    let key = "k".repeat(257);
    let long_key = request(vec![descriptor(&[(key.as_str(), "x")], None)]);
    assert_eq!(
        ask_raw(&mut envoy, long_key).await,
        ["descriptors[0].entries[0].key"]
    );
    let value = "v".repeat(4097);
    let long_value = request(vec![descriptor(&[("tenant_slug", value.as_str())], None)]);
    assert_eq!(
        ask_raw(&mut envoy, long_value).await,
        ["descriptors[0].entries[0].value"]
    );
    let long_domain = RateLimitRequest {
        domain: "d".repeat(4097),
        ..request(vec![one])
    };
    assert_eq!(ask_raw(&mut envoy, long_domain).await, ["domain"]);
    server.stop().await;
}

/// The largest `hits_addend` Envoy can send, twice, on an unlimited rate:
/// counted exactly, nothing wrapped.
async fn largest_hits_are_counted_exactly(counters: Counters) {
    let server = start(counters).await;
    let unlimited = pb::QuotaDefinition {
        period: pb::QuotaPeriod::Hour.into(),
        unlimited: true,
        ..definition("api_requests", pb::QuotaKind::Rate, 0)
    };
    let parent = tenant_on_plan(&server, "hits", vec![unlimited]).await;
    let id = parent.trim_start_matches("tenants/");
    let mut envoy = client(&server, Credentials::bearer(SERVICE_TOKEN));
    for _ in 0..2 {
        let answer = ask(
            &mut envoy,
            vec![descriptor(&[("tenant_id", id)], Some(u32::MAX))],
        )
        .await
        .expect("answered");
        assert_eq!(answer.statuses[0].limit_remaining, u32::MAX);
    }
    let mut client = quotas(&server);
    let counted = used(&mut client, &parent, "api_requests").await;
    assert_eq!(counted, 2 * i64::from(u32::MAX));
    server.stop().await;
}

crate::limiter_tests!(largest_hits_are_counted_exactly);
