//! Blast radius: one tenant's failure is never another's. A bug in one
//! tenant's path (here a panic injected into the in-process limiter while
//! it holds the lock every tenant's counters share) answers INTERNAL to
//! that tenant alone; the process goes on serving and every other
//! tenant's quota calls answer exactly as they would have.

use tenantd::domain::ids::TenantId;
use tenantd::pb;
use tonic::Code;

use crate::quota::{costs, definition, quotas, used};
use crate::ratelimit::{ask, client, descriptor};
use crate::support::fixtures::tenant;
use crate::support::server::{ADMIN_TOKEN, Credentials};
use crate::support::{Backend, TestServer};

crate::backend_tests!(a_panic_in_one_tenants_path_leaves_the_others_served);

async fn create_on_plan(server: &TestServer, slug: &str, id: uuid::Uuid) -> String {
    let mut new = tenant(slug);
    new.plan = "blast".into();
    server
        .tenants()
        .create_tenant(pb::CreateTenantRequest {
            tenant: Some(new),
            tenant_id: id.to_string(),
            ..Default::default()
        })
        .await
        .expect("create tenant")
        .into_inner()
        .name
}

async fn a_panic_in_one_tenants_path_leaves_the_others_served(backend: Backend) {
    let victim_id = uuid::Uuid::now_v7();
    let server = TestServer::start_with(backend, |config| {
        config.limiter_fault = Some(TenantId::from_uuid(victim_id));
    })
    .await;
    let mut admin = quotas(&server);
    admin
        .create_plan(pb::CreatePlanRequest {
            plan: Some(pb::Plan {
                display_name: "blast".into(),
                quotas: vec![
                    definition("seats", pb::QuotaKind::Allocation, 10),
                    pb::QuotaDefinition {
                        period: pb::QuotaPeriod::Minute.into(),
                        ..definition("api_requests", pb::QuotaKind::Rate, 1000)
                    },
                ],
                ..Default::default()
            }),
            plan_id: "blast".into(),
            request_id: String::new(),
        })
        .await
        .expect("create plan");
    let victim = create_on_plan(&server, "victim", victim_id).await;
    let neighbour = create_on_plan(&server, "neighbour", uuid::Uuid::now_v7()).await;
    let allocate = |parent: String, cost: i64| pb::AllocateQuotaRequest {
        parent,
        costs: costs(&[("seats", cost)]),
        mode: pb::QuotaMode::AllOrNothing.into(),
        request_id: String::new(),
    };
    admin
        .allocate_quota(allocate(neighbour.clone(), 3))
        .await
        .expect("the neighbour allocates before the fault");

    for _ in 0..3 {
        let status = admin
            .allocate_quota(allocate(victim.clone(), 1))
            .await
            .expect_err("the victim's path panics");
        assert_eq!(status.code(), Code::Internal, "{status:?}");
        assert_eq!(status.message(), "internal error");
    }

    // The shared lock was held by the panic; the neighbour's answers are
    // what they would have been without it.
    assert_eq!(used(&mut admin, &neighbour, "seats").await, 3);
    let allocated = admin
        .allocate_quota(allocate(neighbour.clone(), 2))
        .await
        .expect("the neighbour allocates after the fault")
        .into_inner();
    assert!(allocated.allowed, "{allocated:?}");
    admin
        .release_quota(pb::ReleaseQuotaRequest {
            parent: neighbour.clone(),
            costs: costs(&[("seats", 1)]),
            request_id: String::new(),
        })
        .await
        .expect("the neighbour releases");
    assert_eq!(used(&mut admin, &neighbour, "seats").await, 4);
    let checked = admin
        .check_quota(pb::CheckQuotaRequest {
            parent: neighbour.clone(),
            costs: costs(&[("api_requests", 1)]),
            mode: pb::QuotaMode::AllOrNothing.into(),
            request_id: String::new(),
        })
        .await
        .expect("the neighbour checks its rate")
        .into_inner();
    assert!(checked.allowed, "{checked:?}");
    let mut envoy = client(&server, Credentials::bearer(ADMIN_TOKEN));
    let neighbour_id = neighbour.trim_start_matches("tenants/");
    let answer = ask(
        &mut envoy,
        vec![descriptor(
            &[("tenant_id", neighbour_id), ("quota", "api_requests")],
            None,
        )],
    )
    .await
    .expect("Envoy's check for the neighbour");
    assert_eq!(answer.overall_code, 1, "OK: {answer:?}");
    server.stop().await;
}
