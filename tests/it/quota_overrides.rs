//! Quota overrides over real gRPC: they replace the plan's limit until
//! removed or expired, refuse to cut below current usage unless forced,
//! and follow etags.

use tenantd::pb;
use tonic::Code;

use crate::quota::{Counters, Quotas, allocate, quotas, start, used};
use crate::support::fixtures::create;
use crate::support::status::{assert_error, invalid_fields};

fn users_override(parent: &str, limit: i64, etag: &str) -> pb::QuotaOverride {
    pb::QuotaOverride {
        name: format!("{parent}/quotaOverrides/users"),
        limit,
        reason: "support ticket 42".to_owned(),
        etag: etag.to_owned(),
        ..Default::default()
    }
}

async fn set(
    client: &mut Quotas,
    value: pb::QuotaOverride,
    force: bool,
) -> Result<pb::QuotaOverride, tonic::Status> {
    client
        .set_quota_override(pb::SetQuotaOverrideRequest {
            quota_override: Some(value),
            force,
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn users_limit(client: &mut Quotas, parent: &str) -> (i64, pb::QuotaLimitSource) {
    let status = client
        .get_quota_status(pb::GetQuotaStatusRequest {
            parent: parent.to_owned(),
            quotas: vec!["users".to_owned()],
        })
        .await
        .expect("quota status")
        .into_inner();
    (status.quotas[0].limit, status.quotas[0].limit_source())
}

async fn overrides_replace_the_plan_limit(counters: Counters) {
    let server = start(counters).await;
    let mut client = quotas(&server);
    let acme = create(&mut server.tenants(), "acme").await.name;
    // starter: 5 users.
    assert_eq!(
        users_limit(&mut client, &acme).await,
        (5, pb::QuotaLimitSource::Plan)
    );
    let set_to_seven = set(&mut client, users_override(&acme, 7, ""), false)
        .await
        .expect("set override");
    assert_eq!(set_to_seven.name, format!("{acme}/quotaOverrides/users"));
    assert_eq!(
        users_limit(&mut client, &acme).await,
        (7, pb::QuotaLimitSource::Override)
    );
    allocate(
        &mut client,
        &acme,
        &[("users", 6)],
        pb::QuotaMode::AllOrNothing,
        "",
    )
    .await
    .expect("six users fit under seven");

    let below = set(&mut client, users_override(&acme, 3, ""), false)
        .await
        .unwrap_err();
    assert_error(&below, Code::FailedPrecondition, "LIMIT_BELOW_USAGE");
    let stale = set(
        &mut client,
        users_override(&acme, 8, "0000000000000000"),
        false,
    )
    .await
    .unwrap_err();
    assert_error(&stale, Code::Aborted, "ETAG_MISMATCH");
    let forced = set(
        &mut client,
        users_override(&acme, 3, &set_to_seven.etag),
        true,
    )
    .await
    .expect("forced below usage");
    assert_ne!(forced.etag, set_to_seven.etag);
    assert_eq!(used(&mut client, &acme, "users").await, 6, "usage stays");
    let refused = allocate(
        &mut client,
        &acme,
        &[("users", 1)],
        pb::QuotaMode::AllOrNothing,
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted);

    let listed = client
        .list_quota_overrides(pb::ListQuotaOverridesRequest {
            parent: acme.clone(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .quota_overrides;
    assert_eq!(listed, vec![forced.clone()]);
    let everyone = client
        .list_quota_overrides(pb::ListQuotaOverridesRequest {
            parent: "tenants/-".to_owned(),
            ..Default::default()
        })
        .await
        .expect("list all")
        .into_inner()
        .quota_overrides;
    assert_eq!(everyone, vec![forced.clone()]);

    // The plan's 5 is below the 6 in use: removing needs force too.
    let delete = |force: bool| pb::DeleteQuotaOverrideRequest {
        name: forced.name.clone(),
        etag: forced.etag.clone(),
        force,
    };
    let kept = client
        .delete_quota_override(delete(false))
        .await
        .unwrap_err();
    assert_error(&kept, Code::FailedPrecondition, "LIMIT_BELOW_USAGE");
    client
        .delete_quota_override(delete(true))
        .await
        .expect("forced delete");
    assert_eq!(
        users_limit(&mut client, &acme).await,
        (5, pb::QuotaLimitSource::Plan)
    );
    let gone = client
        .delete_quota_override(delete(true))
        .await
        .unwrap_err();
    assert_error(&gone, Code::NotFound, "QUOTA_OVERRIDE_NOT_FOUND");
    server.stop().await;
}

async fn bad_overrides_are_refused(counters: Counters) {
    let server = start(counters).await;
    let mut client = quotas(&server);
    let acme = create(&mut server.tenants(), "acme").await.name;
    let undefined = pb::QuotaOverride {
        name: format!("{acme}/quotaOverrides/rockets"),
        ..users_override(&acme, 1, "")
    };
    let status = set(&mut client, undefined, false).await.unwrap_err();
    assert_error(&status, Code::FailedPrecondition, "QUOTA_NOT_DEFINED");
    let no_reason = pb::QuotaOverride {
        reason: String::new(),
        limit: -1,
        ..users_override(&acme, 1, "")
    };
    let status = set(&mut client, no_reason, false).await.unwrap_err();
    assert_eq!(
        invalid_fields(&status),
        ["quota_override.limit", "quota_override.reason"]
    );
    let past = pb::QuotaOverride {
        expire_time: Some(prost_types::Timestamp {
            seconds: 1_000_000_000,
            nanos: 0,
        }),
        ..users_override(&acme, 9, "")
    };
    let status = set(&mut client, past, false).await.unwrap_err();
    assert_eq!(invalid_fields(&status), ["quota_override.expire_time"]);
    let malformed = pb::QuotaOverride {
        name: format!("{acme}/overrides/users"),
        ..users_override(&acme, 9, "")
    };
    let status = set(&mut client, malformed, false).await.unwrap_err();
    assert_eq!(invalid_fields(&status), ["quota_override.name"]);
    server.stop().await;
}

crate::limiter_tests!(overrides_replace_the_plan_limit, bad_overrides_are_refused);
