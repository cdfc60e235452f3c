//! Changing a tenant: updates by mask and etag, unknown and malformed
//! names, and plans that must exist.

use std::collections::HashMap;

use tenantd::pb;
use tonic::Code;

use crate::support::fixtures::{create, mask, name_request, tenant};
use crate::support::status::{assert_error, invalid_fields};
use crate::support::{Backend, TestServer};

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
    update_with_mask_and_etag,
    unknown_and_malformed_names,
);
