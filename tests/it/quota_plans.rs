//! Plan updates keep what counters depend on: the kind of an existing quota
//! cannot change (its counters could not carry over), while limits and new
//! quotas can.

use tenantd::pb;

use crate::quota::{definition, quotas, tenant_on_plan};
use crate::support::fixtures::mask;
use crate::support::status::invalid_fields;
use crate::support::{Backend, TestServer};

async fn quota_kinds_cannot_change(backend: Backend) {
    let server = TestServer::start(backend).await;
    let seats = definition("seats", pb::QuotaKind::Allocation, 5);
    tenant_on_plan(&server, "kinds", vec![seats.clone()]).await;
    let mut client = quotas(&server);
    let update = |quotas: Vec<pb::QuotaDefinition>| pb::UpdatePlanRequest {
        plan: Some(pb::Plan {
            name: "plans/kinds".to_owned(),
            quotas,
            ..Default::default()
        }),
        update_mask: mask(&["quotas"]),
    };
    let as_daily = pb::QuotaDefinition {
        period: pb::QuotaPeriod::Day.into(),
        ..definition("seats", pb::QuotaKind::Periodic, 5)
    };
    let status = client
        .update_plan(update(vec![as_daily]))
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&status), ["plan.quotas[0].kind"]);
    let raised = pb::QuotaDefinition { limit: 9, ..seats };
    let exports = pb::QuotaDefinition {
        period: pb::QuotaPeriod::Day.into(),
        ..definition("exports", pb::QuotaKind::Periodic, 3)
    };
    let plan = client
        .update_plan(update(vec![raised, exports]))
        .await
        .expect("a new limit and a new quota")
        .into_inner();
    let limits: Vec<(String, i64)> = plan
        .quotas
        .iter()
        .map(|quota| (quota.key.clone(), quota.limit))
        .collect();
    assert_eq!(limits, [("seats".to_owned(), 9), ("exports".to_owned(), 3)]);
    server.stop().await;
}

crate::backend_tests!(quota_kinds_cannot_change);
