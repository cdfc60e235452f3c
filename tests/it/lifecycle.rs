//! The tenant lifecycle over real gRPC: soft delete and undelete, suspend
//! and activate, and what each state allows, on both backends.

use tenantd::pb;
use tonic::Code;
use tonic_types::StatusExt;

use crate::support::fixtures::{create, mask, name_request, tenant};
use crate::support::status::{assert_error, invalid_fields};
use crate::support::{Backend, TestServer};

async fn delete_and_undelete(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = server.tenants();
    let live = create(&mut client, "doomed").await;

    let deleted = client
        .delete_tenant(pb::DeleteTenantRequest {
            name: live.name.clone(),
            etag: live.etag.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(deleted.state(), pb::TenantState::Deleted);
    let delete_time = deleted.delete_time.expect("delete_time");
    let purge_time = deleted.purge_time.expect("purge_time");
    assert_eq!(purge_time.seconds - delete_time.seconds, 30 * 24 * 3600);

    let fetched = client
        .get_tenant(name_request(&live.name))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        fetched.state(),
        pb::TenantState::Deleted,
        "Get still shows a soft-deleted tenant"
    );
    let listed = client
        .list_tenants(pb::ListTenantsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(listed.tenants.is_empty(), "List hides it");
    let with_deleted = client
        .list_tenants(pb::ListTenantsRequest {
            show_deleted: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(with_deleted.tenants.len(), 1, "unless show_deleted");

    let again = client
        .delete_tenant(pb::DeleteTenantRequest {
            name: live.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&again, Code::NotFound, "TENANT_NOT_FOUND");
    let mut change = deleted.clone();
    change.display_name = "ghost".into();
    let status = client
        .update_tenant(pb::UpdateTenantRequest {
            tenant: Some(change),
            update_mask: mask(&["display_name"]),
        })
        .await
        .unwrap_err();
    assert_error(&status, Code::FailedPrecondition, "TENANT_DELETED");
    let reuse = client
        .create_tenant(pb::CreateTenantRequest {
            tenant: Some(tenant("doomed")),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&reuse, Code::AlreadyExists, "SLUG_ALREADY_EXISTS");

    let restored = client
        .undelete_tenant(pb::UndeleteTenantRequest {
            name: live.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(restored.state(), pb::TenantState::Active);
    assert!(restored.delete_time.is_none() && restored.purge_time.is_none());

    let live_undelete = client
        .undelete_tenant(pb::UndeleteTenantRequest {
            name: live.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&live_undelete, Code::AlreadyExists, "TENANT_NOT_DELETED");
    server.stop().await;
}

async fn suspend_and_activate(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = server.tenants();
    let live = create(&mut client, "sleepy").await;

    let no_reason = client
        .suspend_tenant(pb::SuspendTenantRequest {
            name: live.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&no_reason), vec!["reason"]);

    let suspended = client
        .suspend_tenant(pb::SuspendTenantRequest {
            name: live.name.clone(),
            reason: "invoice overdue".into(),
            etag: live.etag.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(suspended.state(), pb::TenantState::Suspended);
    assert_eq!(suspended.state_reason, "invoice overdue");

    let stale = client
        .activate_tenant(pb::ActivateTenantRequest {
            name: live.name.clone(),
            etag: live.etag.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&stale, Code::Aborted, "ETAG_MISMATCH");

    // Deleting a suspended tenant and undeleting it keeps it suspended.
    client
        .delete_tenant(pb::DeleteTenantRequest {
            name: live.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let activate_deleted = client
        .activate_tenant(pb::ActivateTenantRequest {
            name: live.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(
        &activate_deleted,
        Code::FailedPrecondition,
        "TENANT_DELETED",
    );
    let failure = activate_deleted
        .get_details_precondition_failure()
        .expect("PreconditionFailure");
    assert_eq!(failure.violations[0].r#type, "TENANT_STATE");
    assert_eq!(failure.violations[0].subject, live.name);

    let restored = client
        .undelete_tenant(pb::UndeleteTenantRequest {
            name: live.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(restored.state(), pb::TenantState::Suspended);
    assert_eq!(restored.state_reason, "invoice overdue");

    let active = client
        .activate_tenant(pb::ActivateTenantRequest {
            name: live.name.clone(),
            reason: "paid".into(),
            etag: restored.etag.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(active.state(), pb::TenantState::Active);
    assert!(active.state_reason.is_empty());
    let unchanged = client
        .activate_tenant(pb::ActivateTenantRequest {
            name: live.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        unchanged, active,
        "activating an active tenant changes nothing"
    );
    server.stop().await;
}

crate::backend_tests!(delete_and_undelete, suspend_and_activate);
