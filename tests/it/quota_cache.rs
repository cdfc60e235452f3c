//! Quota checks read tenants' plans and overrides from a cache: a change
//! made on any replica reaches the answers of every replica at once, though
//! the cache would otherwise keep them an hour.

use std::time::{Duration, Instant};

use tenantd::pb;

use crate::quota::{definition, quotas, tenant_on_plan};
use crate::support::TestServer;
use crate::support::fixtures::mask;

/// The limit GetQuotaStatus on `server` answers for `quota` of `parent`.
async fn limit(server: &TestServer, parent: &str, quota: &str) -> i64 {
    let status = quotas(server)
        .get_quota_status(pb::GetQuotaStatusRequest {
            parent: parent.to_owned(),
            quotas: vec![quota.to_owned()],
        })
        .await
        .expect("quota status")
        .into_inner();
    status.quotas[0].limit
}

/// Polls `server` until the limit reads `expected`; how long that took.
async fn until_limit(server: &TestServer, parent: &str, expected: i64) -> Duration {
    let start = Instant::now();
    loop {
        let seen = limit(server, parent, "seats").await;
        if seen == expected {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "still {seen} after a second, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_and_override_changes_reach_every_replica() {
    let Some((first, second)) = TestServer::replicas_with_long_cache().await else {
        return;
    };
    let seats = definition("seats", pb::QuotaKind::Allocation, 5);
    let parent = tenant_on_plan(&first, "cached", vec![seats.clone()]).await;
    // Warm the second replica's cache.
    assert_eq!(limit(&second, &parent, "seats").await, 5);
    assert_eq!(limit(&second, &parent, "seats").await, 5);

    let mut operator = quotas(&first);
    operator
        .set_quota_override(pb::SetQuotaOverrideRequest {
            quota_override: Some(pb::QuotaOverride {
                name: format!("{parent}/quotaOverrides/seats"),
                limit: 8,
                reason: "pilot".to_owned(),
                ..Default::default()
            }),
            force: false,
        })
        .await
        .expect("override");
    let took = until_limit(&second, &parent, 8).await;
    eprintln!("an override reached the other replica in {took:?}");

    operator
        .delete_quota_override(pb::DeleteQuotaOverrideRequest {
            name: format!("{parent}/quotaOverrides/seats"),
            ..Default::default()
        })
        .await
        .expect("remove override");
    until_limit(&second, &parent, 5).await;

    let plan = pb::Plan {
        name: "plans/cached".to_owned(),
        quotas: vec![pb::QuotaDefinition { limit: 7, ..seats }],
        ..Default::default()
    };
    operator
        .update_plan(pb::UpdatePlanRequest {
            plan: Some(plan),
            update_mask: mask(&["quotas"]),
        })
        .await
        .expect("update plan");
    // The replica that made the change answers with it at once.
    assert_eq!(limit(&first, &parent, "seats").await, 7);
    let took = until_limit(&second, &parent, 7).await;
    eprintln!("a plan change reached the other replica in {took:?}");
    second.stop().await;
    first.stop().await;
}
