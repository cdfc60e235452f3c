//! Blast radius: one tenant's failure is never another's. A bug in one
//! tenant's path (here a panic injected into the in-process limiter while
//! it holds the lock every tenant's counters share) answers INTERNAL to
//! that tenant alone; the process goes on serving and every other
//! tenant's quota calls answer exactly as they would have. And every
//! hostile class of input, sent with a tenant's own key, is refused as the
//! caller's mistake without changing what the neighbour reads.

use tenantd::common::ids::TenantId;
use tenantd::pb;
use tonic::Code;

use crate::quota::{costs, definition, quotas, used};
use crate::ratelimit::{ask, client, descriptor};
use crate::support::fixtures::tenant;
use crate::support::server::{ADMIN_TOKEN, Credentials};
use crate::support::{Backend, TestServer};

crate::backend_tests!(
    a_panic_in_one_tenants_path_leaves_the_others_served,
    hostile_calls_change_nothing_for_the_neighbour,
);

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

/// What the neighbour's operator sees of it: its record, its quota usage
/// and its usage rollups.
async fn neighbour_view(
    server: &TestServer,
    neighbour: &str,
) -> (pb::Tenant, i64, Vec<(String, String, f64, i64)>) {
    let record = server
        .tenants()
        .get_tenant(crate::support::fixtures::name_request(neighbour))
        .await
        .expect("the neighbour reads")
        .into_inner();
    let seats = used(&mut quotas(server), neighbour, "seats").await;
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let rollups =
        crate::support::usage::day_points(&server.channel, neighbour, (today.clone(), today)).await;
    (record, seats, rollups)
}

/// The hostile classes of the fault-isolation work, each sent with one
/// tenant's own key: a filter bomb, an overflowing quota adjustment, a
/// forged page token, ambiguous credentials, undecodable bytes, unstorable
/// and overflowing usage events. Each is refused as the caller's mistake;
/// the process serves on, and the neighbour reads exactly as before.
async fn hostile_calls_change_nothing_for_the_neighbour(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = quotas(&server);
    admin
        .create_plan(pb::CreatePlanRequest {
            plan: Some(pb::Plan {
                display_name: "blast".into(),
                quotas: vec![definition("seats", pb::QuotaKind::Allocation, 10)],
                ..Default::default()
            }),
            plan_id: "blast".into(),
            request_id: String::new(),
        })
        .await
        .expect("create plan");
    let hostile = create_on_plan(&server, "hostile", uuid::Uuid::now_v7()).await;
    let neighbour = create_on_plan(&server, "neighbour", uuid::Uuid::now_v7()).await;
    crate::support::usage::create_metrics(
        &server.channel,
        &[("api_calls", pb::MetricAggregation::Sum, "")],
    )
    .await;
    let key = server
        .tenants()
        .create_api_key(pb::CreateApiKeyRequest {
            parent: hostile.clone(),
            api_key: Some(pb::ApiKey {
                display_name: "hostile".into(),
                scopes: vec![
                    "audit:read".into(),
                    "quota:allocate".into(),
                    "usage:write".into(),
                ],
                ..Default::default()
            }),
        })
        .await
        .expect("create key")
        .into_inner()
        .secret;
    admin
        .allocate_quota(pb::AllocateQuotaRequest {
            parent: neighbour.clone(),
            costs: costs(&[("seats", 2)]),
            mode: pb::QuotaMode::AllOrNothing.into(),
            request_id: String::new(),
        })
        .await
        .expect("the neighbour allocates");
    let before = neighbour_view(&server, &neighbour).await;

    let mut tenants = server.tenants_as(Credentials::bearer(&key));
    let bomb = vec!["action = \"x\""; 20_000].join(" AND ");
    let status = tenants
        .list_audit_events(pb::ListAuditEventsRequest {
            parent: hostile.clone(),
            filter: bomb,
            ..Default::default()
        })
        .await
        .expect_err("a filter bomb is refused");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let status = tenants
        .list_audit_events(pb::ListAuditEventsRequest {
            parent: hostile.clone(),
            page_token: "eyJhZnRlciI6IiIsInF1ZXJ5IjoiIn0".into(),
            ..Default::default()
        })
        .await
        .expect_err("a forged page token is refused");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");

    let mut own_quotas = tenantd::pb::quota_service_client::QuotaServiceClient::with_interceptor(
        server.channel.clone(),
        Credentials::bearer(&key),
    );
    for _ in 0..2 {
        let status = own_quotas
            .allocate_quota(pb::AllocateQuotaRequest {
                parent: hostile.clone(),
                costs: costs(&[("seats", i64::MAX)]),
                mode: pb::QuotaMode::Adjust.into(),
                request_id: String::new(),
            })
            .await
            .expect_err("an overflowing adjustment is refused");
        assert!(
            matches!(status.code(), Code::InvalidArgument | Code::OutOfRange),
            "{status:?}"
        );
    }
    assert!(used(&mut admin, &hostile, "seats").await >= 0);

    let mut request = tonic::Request::new(crate::support::fixtures::name_request(&hostile));
    for value in [
        format!("Bearer {key}"),
        format!("Bearer {}", crate::support::server::SERVICE_TOKEN),
    ] {
        request
            .metadata_mut()
            .append("authorization", value.parse().expect("ascii"));
    }
    let status = server
        .tenants_as(Credentials::none())
        .get_tenant(request)
        .await
        .expect_err("two credentials are refused");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");

    let presented = crate::support::raw::Presented {
        secret: Some(key.clone()),
        tenant_id: None,
    };
    let unary = crate::support::raw::Shape {
        client_streaming: false,
        server_streaming: false,
    };
    let status = crate::support::raw::call(
        &server.channel,
        "/tenantd.v1.UsageService/ReportUsage",
        unary,
        &presented,
        vec![0x0a, 0xff, 0xff, 0x01],
    )
    .await
    .expect_err("undecodable bytes are refused");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");

    let mut usage = tenantd::pb::usage_service_client::UsageServiceClient::with_interceptor(
        server.channel.clone(),
        Credentials::bearer(&key),
    );
    let now = chrono::Utc::now();
    let mut events: Vec<pb::UsageEvent> = (0..3)
        .map(|index| {
            crate::support::usage::usage_event(
                &format!("huge-{index}"),
                &hostile,
                "api_calls",
                1.7e308,
                now,
            )
        })
        .collect();
    let mut unstorable = crate::support::usage::usage_event("nul", &hostile, "api_calls", 1.0, now);
    unstorable.dimensions.insert("region".into(), "eu\0".into());
    events.push(unstorable);
    let answer = usage
        .report_usage(pb::ReportUsageRequest { events })
        .await
        .expect("the batch is answered event by event")
        .into_inner();
    assert_eq!(
        (answer.accepted_count, answer.rejected_count),
        (0, 4),
        "{answer:?}"
    );

    crate::support::usage::wait_for_aggregation(&server.database_url).await;
    assert_eq!(neighbour_view(&server, &neighbour).await, before);
    let serving = tonic_health::pb::health_client::HealthClient::new(server.channel.clone())
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("the process serves on")
        .into_inner();
    assert_eq!(serving.status, 1, "SERVING");
    server.stop().await;
}
