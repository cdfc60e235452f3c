//! CheckQuota's all-or-nothing and idempotent allocations, on each
//! limiter.

use tenantd::pb;
use tonic::Code;
use tonic_types::StatusExt;

use super::{Counters, allocate, costs, definition, quotas, start, tenant_on_plan, used};
use crate::support::status::assert_error;

/// All-or-nothing charges nothing when one quota of three would exceed;
/// check-only charges nothing; a retry with the same request id charges
/// once; unknown quotas are FAILED_PRECONDITION.
async fn atomic_and_idempotent(counters: Counters) {
    let server = start(counters).await;
    let parent = tenant_on_plan(
        &server,
        "three",
        vec![
            definition("seats", pb::QuotaKind::Allocation, 10),
            definition("bytes", pb::QuotaKind::Allocation, 100),
            pb::QuotaDefinition {
                period: pb::QuotaPeriod::Day.into(),
                ..definition("emails", pb::QuotaKind::Periodic, 5)
            },
        ],
    )
    .await;
    let mut client = quotas(&server);
    let refused = allocate(
        &mut client,
        &parent,
        &[("seats", 1), ("bytes", 50), ("emails", 6)],
        pb::QuotaMode::AllOrNothing,
        "",
    )
    .await
    .expect_err("emails exceed");
    assert_error(&refused, Code::ResourceExhausted, "QUOTA_EXCEEDED");
    let failure = refused.get_details_quota_failure().expect("QuotaFailure");
    assert_eq!(failure.violations.len(), 1);
    assert_eq!(failure.violations[0].quota_id, "emails");
    assert!(
        refused.get_details_retry_info().is_none(),
        "6 never fits a limit of 5: waiting cannot help"
    );
    for quota in ["seats", "bytes", "emails"] {
        assert_eq!(used(&mut client, &parent, quota).await, 0, "{quota}");
    }

    let check = allocate(
        &mut client,
        &parent,
        &[("seats", 11)],
        pb::QuotaMode::CheckOnly,
        "",
    )
    .await
    .expect("check only answers OK");
    assert!(!check.allowed);
    let fits = allocate(
        &mut client,
        &parent,
        &[("seats", 3)],
        pb::QuotaMode::CheckOnly,
        "",
    )
    .await
    .expect("check only");
    assert!(fits.allowed);
    assert_eq!(fits.results[0].granted, 0);
    assert_eq!(used(&mut client, &parent, "seats").await, 0);

    let request_id = uuid::Uuid::new_v4().to_string();
    let first = allocate(
        &mut client,
        &parent,
        &[("seats", 4)],
        pb::QuotaMode::AllOrNothing,
        &request_id,
    )
    .await
    .expect("allocate");
    let retry = allocate(
        &mut client,
        &parent,
        &[("seats", 4)],
        pb::QuotaMode::AllOrNothing,
        &request_id,
    )
    .await
    .expect("retry");
    assert_eq!(first, retry);
    assert_eq!(used(&mut client, &parent, "seats").await, 4);
    let released = client
        .release_quota(pb::ReleaseQuotaRequest {
            parent: parent.clone(),
            costs: costs(&[("seats", 10)]),
            request_id: String::new(),
        })
        .await
        .expect("release")
        .into_inner();
    assert_eq!(
        released.results[0].granted, 4,
        "usage never goes below zero"
    );
    assert_eq!(used(&mut client, &parent, "seats").await, 0);

    let unknown = allocate(
        &mut client,
        &parent,
        &[("nope", 1)],
        pb::QuotaMode::AllOrNothing,
        "",
    )
    .await
    .expect_err("unknown");
    assert_error(&unknown, Code::FailedPrecondition, "QUOTA_NOT_DEFINED");
    server.stop().await;
}

crate::limiter_tests!(atomic_and_idempotent,);
