//! TenantService over real gRPC: creating, reading and updating tenants,
//! their validation, conditional updates and idempotent creates, on both
//! backends.

use std::collections::{HashMap, HashSet};

use tenantd::pb;
use tonic::Code;

use crate::support::fixtures::{create, mask, name_request, tenant};
use crate::support::status::{assert_error, invalid_fields};
use crate::support::{Backend, TestServer};

async fn create_get_and_alias(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = server.tenants();
    let created = client
        .create_tenant(pb::CreateTenantRequest {
            tenant: Some(pb::Tenant {
                slug: "acme".into(),
                display_name: "Acme Corp".into(),
                labels: HashMap::from([("env".into(), "prod".into())]),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("create")
        .into_inner();
    assert_eq!(created.name, format!("tenants/{}", created.id));
    assert_eq!(
        uuid::Uuid::parse_str(&created.id)
            .unwrap()
            .get_version_num(),
        7
    );
    assert_eq!(created.state(), pb::TenantState::Active);
    assert_eq!(created.plan, "starter");
    assert_eq!(created.display_name, "Acme Corp");
    assert_eq!(created.labels.get("env").map(String::as_str), Some("prod"));
    assert!(!created.etag.is_empty());
    assert!(created.create_time.is_some() && created.delete_time.is_none());

    let by_name = client
        .get_tenant(name_request(&created.name))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        by_name, created,
        "a read returns exactly what the create returned"
    );
    let by_slug = client
        .get_tenant(name_request("tenants/slug:acme"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_slug, created);
    server.stop().await;
}

async fn caller_chosen_id_and_duplicates(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = server.tenants();
    let chosen = "2f0c6a57-5a0e-4d0b-9c1e-9a8f9f1b2c3d";
    let created = client
        .create_tenant(pb::CreateTenantRequest {
            tenant: Some(tenant("chosen")),
            tenant_id: chosen.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.id, chosen);

    let same_id = client
        .create_tenant(pb::CreateTenantRequest {
            tenant: Some(tenant("another")),
            tenant_id: chosen.into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&same_id, Code::AlreadyExists, "TENANT_ALREADY_EXISTS");

    let same_slug = client
        .create_tenant(pb::CreateTenantRequest {
            tenant: Some(tenant("chosen")),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&same_slug, Code::AlreadyExists, "SLUG_ALREADY_EXISTS");
    server.stop().await;
}

async fn invalid_creates_name_every_bad_field(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = server.tenants();
    for bad_slug in [
        "", "ab", "Acme", "-acme", "acme-", "ac_me", "www", "api", "admin",
    ] {
        let status = client
            .create_tenant(pb::CreateTenantRequest {
                tenant: Some(tenant(bad_slug)),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(
            invalid_fields(&status),
            vec!["tenant.slug"],
            "slug {bad_slug:?}"
        );
    }
    let status = client
        .create_tenant(pb::CreateTenantRequest {
            tenant: Some(pb::Tenant {
                slug: "Bad Slug".into(),
                plan: "Not A Plan".into(),
                display_name: "x".repeat(201),
                labels: HashMap::from([("Env".into(), "prod".into())]),
                ..Default::default()
            }),
            tenant_id: "not-a-uuid".into(),
            request_id: "also-not-a-uuid".into(),
        })
        .await
        .unwrap_err();
    let fields: HashSet<String> = invalid_fields(&status).into_iter().collect();
    for expected in [
        "tenant.slug",
        "tenant.plan",
        "tenant.display_name",
        "tenant_id",
    ] {
        assert!(
            fields.contains(expected),
            "{expected} missing from {fields:?}"
        );
    }
    assert!(
        fields
            .iter()
            .any(|field| field.starts_with("tenant.labels")),
        "{fields:?}"
    );

    let missing = client
        .create_tenant(pb::CreateTenantRequest::default())
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&missing), vec!["tenant"]);

    let listed = client
        .list_tenants(pb::ListTenantsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(
        listed.tenants.is_empty(),
        "nothing was created by refused requests"
    );
    server.stop().await;
}

async fn request_id_makes_create_idempotent(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = server.tenants();
    let request_id = uuid::Uuid::new_v4().to_string();
    let request = pb::CreateTenantRequest {
        tenant: Some(tenant("retried")),
        request_id: request_id.clone(),
        ..Default::default()
    };
    let first = client
        .create_tenant(request.clone())
        .await
        .unwrap()
        .into_inner();
    let retry = client
        .create_tenant(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, retry);

    let concurrent = futures_join(&server, request.clone()).await;
    assert!(concurrent.iter().all(|tenant| tenant.id == first.id));

    let listed = client
        .list_tenants(pb::ListTenantsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.tenants.len(), 1, "retries created no second tenant");

    let mut changed = request.clone();
    changed.tenant = Some(tenant("different"));
    let reused = client.create_tenant(changed).await.unwrap_err();
    assert_eq!(invalid_fields(&reused), vec!["request_id"]);
    server.stop().await;
}

/// Sends the same create from several tasks at once.
async fn futures_join(server: &TestServer, request: pb::CreateTenantRequest) -> Vec<pb::Tenant> {
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let mut client = server.tenants();
            let request = request.clone();
            tokio::spawn(async move {
                client
                    .create_tenant(request)
                    .await
                    .map(|reply| reply.into_inner())
            })
        })
        .collect();
    let mut created = Vec::new();
    for task in tasks {
        created.push(task.await.expect("task").expect("idempotent create"));
    }
    created
}

async fn update_with_mask_and_etag(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = server.tenants();
    let original = create(&mut client, "update-me").await;

    let mut change = original.clone();
    change.display_name = "Renamed".into();
    change.plan = "enterprise".into();
    let updated = client
        .update_tenant(pb::UpdateTenantRequest {
            tenant: Some(change),
            update_mask: mask(&["display_name"]),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.display_name, "Renamed");
    assert_eq!(
        updated.plan, "starter",
        "fields outside the mask are unchanged"
    );
    assert_ne!(updated.etag, original.etag);
    let micros = |t: &Option<prost_types::Timestamp>| {
        t.as_ref()
            .map(|t| t.seconds * 1_000_000 + i64::from(t.nanos / 1000))
    };
    assert!(micros(&updated.update_time) > micros(&original.update_time));

    let mut stale = original.clone();
    stale.display_name = "Lost update".into();
    let status = client
        .update_tenant(pb::UpdateTenantRequest {
            tenant: Some(stale),
            update_mask: mask(&["display_name"]),
        })
        .await
        .unwrap_err();
    assert_error(&status, Code::Aborted, "ETAG_MISMATCH");

    let mut fresh = updated.clone();
    fresh.labels = HashMap::from([("tier".into(), "gold".into())]);
    fresh.slug = "updated-slug".into();
    let relabelled = client
        .update_tenant(pb::UpdateTenantRequest {
            tenant: Some(fresh),
            update_mask: mask(&["labels", "slug"]),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(relabelled.slug, "updated-slug");
    assert_eq!(
        relabelled.labels.get("tier").map(String::as_str),
        Some("gold")
    );

    for immutable in ["id", "state", "create_time", "name", "etag"] {
        let status = client
            .update_tenant(pb::UpdateTenantRequest {
                tenant: Some(relabelled.clone()),
                update_mask: mask(&[immutable]),
            })
            .await
            .unwrap_err();
        assert_eq!(invalid_fields(&status), vec!["update_mask"], "{immutable}");
    }
    let unknown = client
        .update_tenant(pb::UpdateTenantRequest {
            tenant: Some(relabelled.clone()),
            update_mask: mask(&["colour"]),
        })
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&unknown), vec!["update_mask"]);

    let no_mask = client
        .update_tenant(pb::UpdateTenantRequest {
            tenant: Some(pb::Tenant {
                name: relabelled.name.clone(),
                plan: "professional".into(),
                ..Default::default()
            }),
            update_mask: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        no_mask.plan, "professional",
        "without a mask, populated fields are updated"
    );
    assert_eq!(
        no_mask.display_name, "Renamed",
        "and empty ones are left alone"
    );

    let other = create(&mut client, "taken").await;
    let mut collide = no_mask.clone();
    collide.slug = other.slug.clone();
    let status = client
        .update_tenant(pb::UpdateTenantRequest {
            tenant: Some(collide),
            update_mask: mask(&["slug"]),
        })
        .await
        .unwrap_err();
    assert_error(&status, Code::AlreadyExists, "SLUG_ALREADY_EXISTS");

    let reread = client
        .get_tenant(name_request(&no_mask.name))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reread, no_mask, "refused updates changed nothing");
    server.stop().await;
}

async fn unknown_and_malformed_names(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = server.tenants();
    let unknown = "tenants/0193a3c4-1111-7000-8000-000000000001";
    let status = client.get_tenant(name_request(unknown)).await.unwrap_err();
    assert_error(&status, Code::NotFound, "TENANT_NOT_FOUND");
    let status = client
        .get_tenant(name_request("tenants/slug:nobody"))
        .await
        .unwrap_err();
    assert_error(&status, Code::NotFound, "TENANT_NOT_FOUND");
    for malformed in ["", "tenants/", "tenants/xyz", "orgs/1", "tenants/a/b"] {
        let status = client
            .get_tenant(name_request(malformed))
            .await
            .unwrap_err();
        assert_eq!(invalid_fields(&status), vec!["name"], "{malformed:?}");
    }
    let status = client
        .suspend_tenant(pb::SuspendTenantRequest {
            name: unknown.into(),
            reason: "x".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&status, Code::NotFound, "TENANT_NOT_FOUND");
    server.stop().await;
}

/// Tenants are put only on plans of the catalogue.
async fn plans_must_exist(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = server.tenants();
    let mut platinum = tenant("shiny");
    platinum.plan = "platinum".into();
    let create_request = || pb::CreateTenantRequest {
        tenant: Some(platinum.clone()),
        ..Default::default()
    };
    let refused = client.create_tenant(create_request()).await.unwrap_err();
    assert_error(&refused, Code::FailedPrecondition, "PLAN_NOT_FOUND");
    let acme = create(&mut client, "acme").await;
    let mut change = acme.clone();
    change.plan = "platinum".into();
    let refused = client
        .update_tenant(pb::UpdateTenantRequest {
            tenant: Some(change.clone()),
            update_mask: mask(&["plan"]),
        })
        .await
        .unwrap_err();
    assert_error(&refused, Code::FailedPrecondition, "PLAN_NOT_FOUND");

    let mut plans = pb::quota_service_client::QuotaServiceClient::with_interceptor(
        server.channel.clone(),
        crate::support::server::Credentials::bearer(crate::support::server::ADMIN_TOKEN),
    );
    plans
        .create_plan(pb::CreatePlanRequest {
            plan_id: "platinum".into(),
            plan: Some(pb::Plan {
                display_name: "Platinum".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("create plan");
    let created = client
        .create_tenant(create_request())
        .await
        .expect("create");
    assert_eq!(created.into_inner().plan, "platinum");
    let updated = client
        .update_tenant(pb::UpdateTenantRequest {
            tenant: Some(change),
            update_mask: mask(&["plan"]),
        })
        .await
        .expect("update");
    assert_eq!(updated.into_inner().plan, "platinum");
    server.stop().await;
}

crate::backend_tests!(
    plans_must_exist,
    create_get_and_alias,
    caller_chosen_id_and_duplicates,
    invalid_creates_name_every_bad_field,
    request_id_makes_create_idempotent,
    update_with_mask_and_etag,
    unknown_and_malformed_names,
);
