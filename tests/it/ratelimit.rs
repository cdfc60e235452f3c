//! Envoy's RateLimitService over real gRPC, on in-process counters and on
//! Redis: descriptors naming a tenant (by id, by slug, or through the
//! call's metadata) are counted against the tenant's plan, OK until the
//! limit and OVER_LIMIT after it, with the `x-ratelimit-*` headers; bad
//! descriptors are refused with a gRPC error (which Envoy treats per its
//! `failure_mode_deny`).

use envoy_types::pb::google::protobuf::UInt64Value;
use tenantd::envoy::extensions::common::ratelimit::v3::RateLimitDescriptor;
use tenantd::envoy::extensions::common::ratelimit::v3::rate_limit_descriptor::Entry;
use tenantd::envoy::service::ratelimit::v3::rate_limit_response::rate_limit::Unit;
use tenantd::envoy::service::ratelimit::v3::rate_limit_response::{Code as Verdict, RateLimit};
use tenantd::envoy::service::ratelimit::v3::rate_limit_service_client::RateLimitServiceClient;
use tenantd::envoy::service::ratelimit::v3::{RateLimitRequest, RateLimitResponse};
use tenantd::pb;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::quota::{Counters, definition, start, tenant_on_plan};
use crate::support::TestServer;
use crate::support::fixtures::create;
use crate::support::server::{Credentials, SERVICE_TOKEN};
use crate::support::status::{assert_error, invalid_fields};

pub type Client = RateLimitServiceClient<InterceptedService<Channel, Credentials>>;

pub fn client(server: &TestServer, credentials: Credentials) -> Client {
    RateLimitServiceClient::with_interceptor(server.channel.clone(), credentials)
}

pub fn descriptor(entries: &[(&str, &str)], hits: Option<u32>) -> RateLimitDescriptor {
    RateLimitDescriptor {
        entries: entries
            .iter()
            .map(|(key, value)| Entry {
                key: (*key).to_owned(),
                value: (*value).to_owned(),
            })
            .collect(),
        hits_addend: hits.map(|value| UInt64Value {
            value: u64::from(value),
        }),
        ..Default::default()
    }
}

pub async fn ask(
    client: &mut Client,
    descriptors: Vec<RateLimitDescriptor>,
) -> Result<RateLimitResponse, tonic::Status> {
    client
        .should_rate_limit(RateLimitRequest {
            domain: "edge".to_owned(),
            descriptors,
            hits_addend: 0,
        })
        .await
        .map(tonic::Response::into_inner)
}

fn header(answer: &RateLimitResponse, key: &str) -> String {
    answer
        .response_headers_to_add
        .iter()
        .find(|header| header.key == key)
        .map(|header| header.value.clone())
        .unwrap_or_else(|| panic!("no {key} in {answer:?}"))
}

fn verdicts(answer: &RateLimitResponse) -> Vec<Verdict> {
    answer
        .statuses
        .iter()
        .map(|status| Verdict::try_from(status.code).expect("a code"))
        .collect()
}

/// A plan of 3 requests a minute (a sliding window, so the test does not
/// race a refill) and 2 exports a day.
async fn gateway_tenant(server: &TestServer) -> String {
    let per_minute = pb::QuotaDefinition {
        period: pb::QuotaPeriod::Minute.into(),
        algorithm: pb::RateLimitAlgorithm::SlidingWindow.into(),
        ..definition("api_requests", pb::QuotaKind::Rate, 3)
    };
    let exports = pb::QuotaDefinition {
        period: pb::QuotaPeriod::Day.into(),
        ..definition("exports", pb::QuotaKind::Periodic, 2)
    };
    tenant_on_plan(server, "gateway", vec![per_minute, exports]).await
}

async fn descriptors_count_against_the_plan(counters: Counters) {
    let server = start(counters).await;
    let name = gateway_tenant(&server).await;
    let id = name.trim_start_matches("tenants/").to_owned();
    let mut envoy = client(&server, Credentials::bearer(SERVICE_TOKEN));
    for remaining in [2, 1, 0] {
        let answer = ask(&mut envoy, vec![descriptor(&[("tenant_id", &id)], None)])
            .await
            .expect("under the limit");
        assert_eq!(Verdict::try_from(answer.overall_code), Ok(Verdict::Ok));
        let status = &answer.statuses[0];
        assert_eq!(status.limit_remaining, remaining);
        assert_eq!(
            status.current_limit,
            Some(RateLimit {
                name: "api_requests".to_owned(),
                requests_per_unit: 3,
                unit: Unit::Minute.into(),
            })
        );
        assert_eq!(header(&answer, "x-ratelimit-limit"), "3, 3;w=60");
        assert_eq!(
            header(&answer, "x-ratelimit-remaining"),
            remaining.to_string()
        );
    }
    // Over the limit, by id or by slug: the same tenant, nothing charged.
    for entries in [
        [("tenant_id", id.as_str())],
        [("tenant_slug", "gateway-tenant")],
    ] {
        let answer = ask(&mut envoy, vec![descriptor(&entries, None)])
            .await
            .expect("answered");
        assert_eq!(
            Verdict::try_from(answer.overall_code),
            Ok(Verdict::OverLimit)
        );
        assert_eq!(answer.statuses[0].limit_remaining, 0);
        let reset = answer.statuses[0].duration_until_reset.expect("a reset");
        assert!(reset.seconds > 0 && reset.seconds <= 60, "{reset:?}");
        assert_eq!(header(&answer, "x-ratelimit-remaining"), "0");
    }

    // Another quota of the plan, hits from the descriptor, the tenant from
    // the call's metadata; one request's descriptors are judged one by one.
    let mut scoped = client(
        &server,
        Credentials::bearer(SERVICE_TOKEN).with("x-tenant-id", &id),
    );
    let answer = ask(
        &mut scoped,
        vec![
            descriptor(&[("quota", "exports"), ("path", "/reports")], Some(2)),
            descriptor(&[("quota", "exports")], None),
        ],
    )
    .await
    .expect("answered");
    assert_eq!(verdicts(&answer), [Verdict::Ok, Verdict::OverLimit]);
    assert_eq!(
        Verdict::try_from(answer.overall_code),
        Ok(Verdict::OverLimit)
    );
    assert_eq!(header(&answer, "x-ratelimit-limit"), "2, 2;w=86400");

    // Bad descriptors are errors, so Envoy applies its failure mode.
    let status = ask(&mut envoy, vec![descriptor(&[("path", "/")], None)])
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&status), ["descriptors[0]"]);
    let status = ask(
        &mut envoy,
        vec![descriptor(
            &[("tenant_id", "nope"), ("quota", "Not A Key")],
            None,
        )],
    )
    .await
    .unwrap_err();
    assert_eq!(
        invalid_fields(&status),
        ["descriptors[0].tenant_id", "descriptors[0].quota"]
    );
    let status = ask(&mut envoy, Vec::new()).await.unwrap_err();
    assert_eq!(invalid_fields(&status), ["descriptors"]);
    let status = ask(
        &mut envoy,
        vec![descriptor(&[("tenant_id", &id), ("quota", "seats")], None)],
    )
    .await
    .unwrap_err();
    assert_error(&status, Code::FailedPrecondition, "QUOTA_NOT_DEFINED");
    let unknown = uuid::Uuid::now_v7().to_string();
    let status = ask(
        &mut envoy,
        vec![descriptor(&[("tenant_id", &unknown)], None)],
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    server.stop().await;
}

/// The shipped starter plan allows 10 requests a second, in bursts of up
/// to 20: a burst of 20 is OK, the next request in the same instant is
/// OVER_LIMIT.
async fn the_starter_rate_is_enforced(counters: Counters) {
    let server = start(counters).await;
    let tenant = create(&mut server.tenants(), "starter-edge").await;
    let mut envoy = client(&server, Credentials::bearer(SERVICE_TOKEN));
    let by_id = [("tenant_id", tenant.id.as_str())];
    let answer = ask(
        &mut envoy,
        vec![descriptor(&by_id, Some(20)), descriptor(&by_id, Some(1))],
    )
    .await
    .expect("answered");
    assert_eq!(verdicts(&answer), [Verdict::Ok, Verdict::OverLimit]);
    assert_eq!(header(&answer, "x-ratelimit-limit"), "10, 10;w=1");
    server.stop().await;
}

crate::limiter_tests!(
    descriptors_count_against_the_plan,
    the_starter_rate_is_enforced
);
