//! Plans over real gRPC: the catalogue's standard methods with etags and
//! idempotent creates, and updates that keep what counters depend on (the
//! kind of an existing quota cannot change, limits and new quotas can).

use tenantd::pb;
use tonic::Code;

use crate::quota::{definition, quotas, tenant_on_plan};
use crate::support::fixtures::mask;
use crate::support::status::{assert_error, invalid_fields};
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

async fn plans_crud(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = quotas(&server);
    let listed = client
        .list_plans(pb::ListPlansRequest::default())
        .await
        .expect("list plans")
        .into_inner();
    let names: Vec<&str> = listed.plans.iter().map(|plan| plan.name.as_str()).collect();
    assert_eq!(
        names,
        ["plans/enterprise", "plans/professional", "plans/starter"]
    );
    let starter = &listed.plans[2];
    let users = starter
        .quotas
        .iter()
        .find(|quota| quota.key == "users")
        .expect("users");
    assert_eq!(users.limit, 5);
    let enterprise_users = listed.plans[0]
        .quotas
        .iter()
        .find(|quota| quota.key == "users")
        .expect("users");
    assert!(enterprise_users.unlimited);

    let created = client
        .create_plan(pb::CreatePlanRequest {
            plan: Some(pb::Plan {
                display_name: "Team".to_owned(),
                quotas: vec![definition("seats", pb::QuotaKind::Allocation, 50)],
                ..Default::default()
            }),
            plan_id: "team-2026".to_owned(),
            request_id: String::new(),
        })
        .await
        .expect("create plan")
        .into_inner();
    assert_eq!(created.name, "plans/team-2026");
    let again = client
        .create_plan(pb::CreatePlanRequest {
            plan: Some(pb::Plan {
                display_name: "Team".to_owned(),
                ..Default::default()
            }),
            plan_id: "team-2026".to_owned(),
            request_id: String::new(),
        })
        .await
        .expect_err("duplicate");
    assert_error(&again, Code::AlreadyExists, "PLAN_ALREADY_EXISTS");
    let invalid = client
        .create_plan(pb::CreatePlanRequest {
            plan: Some(pb::Plan {
                display_name: "Bad".to_owned(),
                quotas: vec![definition("rate", pb::QuotaKind::Rate, 5)],
                ..Default::default()
            }),
            plan_id: "bad".to_owned(),
            request_id: String::new(),
        })
        .await
        .expect_err("a rate quota needs a period");
    assert_error(&invalid, Code::InvalidArgument, "INVALID_ARGUMENT");

    let mut change = created.clone();
    change.display_name = "Team 2026".to_owned();
    let updated = client
        .update_plan(pb::UpdatePlanRequest {
            plan: Some(change.clone()),
            update_mask: mask(&["display_name"]),
        })
        .await
        .expect("update plan")
        .into_inner();
    assert_eq!(updated.display_name, "Team 2026");
    assert_ne!(updated.etag, created.etag);
    let stale = client
        .update_plan(pb::UpdatePlanRequest {
            plan: Some(change),
            update_mask: mask(&["display_name"]),
        })
        .await
        .expect_err("stale etag");
    assert_error(&stale, Code::Aborted, "ETAG_MISMATCH");
    let fetched = client
        .get_plan(pb::GetPlanRequest {
            name: "plans/team-2026".to_owned(),
        })
        .await
        .expect("get plan")
        .into_inner();
    assert_eq!(fetched, updated);
    server.stop().await;
}

crate::backend_tests!(plans_crud, quota_kinds_cannot_change);
