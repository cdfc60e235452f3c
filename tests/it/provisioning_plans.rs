//! Plans choose their tenants' isolation: the seeded paid plans default to
//! SCHEMA and `starter` to POOL; a custom plan's `default_isolation` is set
//! at creation and changed by UpdatePlan, for tenants created afterwards.

use tenantd::pb;

use crate::provisioning::create_with;
use crate::quota::quotas;
use crate::support::db::postgres_available;
use crate::support::fixtures::mask;
use crate::support::{Backend, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plans_choose_the_isolation_of_their_new_tenants() {
    if !postgres_available().await {
        return;
    }
    let server = TestServer::start(Backend::Postgres).await;
    let mut plans = quotas(&server);
    let seeded = plans
        .list_plans(pb::ListPlansRequest::default())
        .await
        .expect("list plans")
        .into_inner();
    let defaults: Vec<(String, pb::IsolationModel)> = seeded
        .plans
        .iter()
        .map(|plan| (plan.name.clone(), plan.default_isolation()))
        .collect();
    for (name, model) in [
        ("plans/starter", pb::IsolationModel::Pool),
        ("plans/professional", pb::IsolationModel::Schema),
        ("plans/enterprise", pb::IsolationModel::Schema),
    ] {
        assert!(defaults.contains(&(name.to_owned(), model)), "{defaults:?}");
    }

    let team = plans
        .create_plan(pb::CreatePlanRequest {
            plan_id: "team".to_owned(),
            plan: Some(pb::Plan {
                display_name: "Team".to_owned(),
                default_isolation: pb::IsolationModel::Schema.into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("create a SCHEMA plan")
        .into_inner();
    assert_eq!(team.default_isolation(), pb::IsolationModel::Schema);
    let mut tenants = server.tenants();
    let first = create_with(
        &mut tenants,
        "team-one",
        "team",
        pb::IsolationModel::Unspecified,
    )
    .await
    .expect("create on team");
    assert_eq!(first.isolation(), pb::IsolationModel::Schema);
    assert_eq!(first.state(), pb::TenantState::Active);

    let pooled = plans
        .update_plan(pb::UpdatePlanRequest {
            plan: Some(pb::Plan {
                name: "plans/team".to_owned(),
                default_isolation: pb::IsolationModel::Pool.into(),
                ..Default::default()
            }),
            update_mask: mask(&["default_isolation"]),
        })
        .await
        .expect("switch the plan to POOL")
        .into_inner();
    assert_eq!(pooled.default_isolation(), pb::IsolationModel::Pool);
    let second = create_with(
        &mut tenants,
        "team-two",
        "team",
        pb::IsolationModel::Unspecified,
    )
    .await
    .expect("create on team again");
    assert_eq!(second.isolation(), pb::IsolationModel::Pool);
    let asked = create_with(
        &mut tenants,
        "team-three",
        "team",
        pb::IsolationModel::Schema,
    )
    .await
    .expect("a creator may still ask for SCHEMA");
    assert_eq!(asked.isolation(), pb::IsolationModel::Schema);
    server.stop().await;
}
