//! TenantService over real gRPC: creating, reading and updating tenants,
//! their validation, conditional updates and idempotent creates, on both
//! backends.

mod updates;

use std::collections::{HashMap, HashSet};

use tenantd::pb;
use tonic::Code;

use crate::support::fixtures::{name_request, tenant};
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
            ..Default::default()
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

crate::backend_tests!(
    create_get_and_alias,
    caller_chosen_id_and_duplicates,
    invalid_creates_name_every_bad_field,
    request_id_makes_create_idempotent,
);
