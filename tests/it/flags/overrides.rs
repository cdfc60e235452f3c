//! Flag overrides: a plan's and a tenant's overrides apply in order, and a
//! tenant's key reaches only its own tenant's overrides.

use pb::EvaluationReason as R;
use serde_json::json;
use tenantd::pb;
use tonic::Code;

use super::set_override;
use crate::support::fixtures::{create, mask};
use crate::support::flags::{
    admin, boolean_flag, configs, context, create_flag, evaluate, outcome,
};
use crate::support::status::{assert_error, invalid_fields};
use crate::support::{Backend, TestServer};

async fn plan_and_tenant_overrides_apply_in_order(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = admin(&server.channel);
    let tenant = create(&mut server.tenants(), "override-co").await;
    create_flag(&mut client, "beta", boolean_flag(Vec::new())).await;
    let nobody = || context("", json!({}));
    let answer = evaluate(&mut client, &tenant.name, "beta", nobody()).await;
    assert_eq!(outcome(&answer), ("off".into(), R::Static));

    let plan_name = "plans/starter/flagOverrides/beta";
    let plan_override = set_override(
        &mut client,
        plan_name,
        pb::FlagOverride {
            variant: "on".into(),
            description: "starter gets the beta".into(),
            ..Default::default()
        },
    )
    .await
    .expect("set the plan's override");
    let answer = evaluate(&mut client, &tenant.name, "beta", nobody()).await;
    assert_eq!(outcome(&answer), ("on".into(), R::TargetingMatch));

    let tenant_name = format!("{}/flagOverrides/beta", tenant.name);
    let tenant_override = set_override(
        &mut client,
        &tenant_name,
        pb::FlagOverride {
            enabled: Some(false),
            ..Default::default()
        },
    )
    .await
    .expect("set the tenant's override");
    let answer = evaluate(&mut client, &tenant.name, "beta", nobody()).await;
    assert_eq!(outcome(&answer), ("off".into(), R::Disabled));

    let stale = set_override(
        &mut client,
        &tenant_name,
        pb::FlagOverride {
            enabled: Some(true),
            etag: plan_override.etag.clone(),
            ..Default::default()
        },
    )
    .await
    .expect_err("a stale etag");
    assert_error(&stale, Code::Aborted, "ETAG_MISMATCH");
    let unknown_variant = set_override(
        &mut client,
        &tenant_name,
        pb::FlagOverride {
            variant: "maybe".into(),
            ..Default::default()
        },
    )
    .await
    .expect_err("a variant the flag lacks");
    assert_eq!(invalid_fields(&unknown_variant), ["flag_override.variant"]);

    let listed = client
        .list_flag_overrides(pb::ListFlagOverridesRequest {
            parent: "tenants/-".into(),
            ..Default::default()
        })
        .await
        .expect("list every tenant's overrides")
        .into_inner();
    assert_eq!(listed.flag_overrides.len(), 1);
    assert_eq!(listed.flag_overrides[0].name, tenant_name);
    assert_eq!(listed.flag_overrides[0], tenant_override);

    let in_use = client
        .update_flag(pb::UpdateFlagRequest {
            flag: Some(pb::Flag {
                name: "flags/beta".into(),
                variants: [("off".to_owned(), crate::support::flags::value(json!(false)))].into(),
                ..Default::default()
            }),
            update_mask: mask(&["variants"]),
        })
        .await
        .expect_err("the plan's override serves `on`");
    assert_error(&in_use, Code::FailedPrecondition, "VARIANT_IN_USE");

    client
        .delete_flag_override(pb::DeleteFlagOverrideRequest {
            name: tenant_name.clone(),
            etag: tenant_override.etag,
        })
        .await
        .expect("delete the tenant's override");
    let answer = evaluate(&mut client, &tenant.name, "beta", nobody()).await;
    assert_eq!(outcome(&answer), ("on".into(), R::TargetingMatch));
    let audit = server
        .tenants()
        .list_audit_events(pb::ListAuditEventsRequest {
            parent: tenant.name.clone(),
            filter: "action = \"DeleteFlagOverride\"".into(),
            ..Default::default()
        })
        .await
        .expect("the tenant's audit trail")
        .into_inner();
    assert_eq!(audit.audit_events.len(), 1);
    assert_eq!(audit.audit_events[0].resource, tenant_name);
    server.stop().await;
}

async fn tenant_keys_reach_only_their_own_overrides(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut operator = admin(&server.channel);
    let mut tenants = server.tenants();
    let own = create(&mut tenants, "key-owner").await;
    let other = create(&mut tenants, "key-other").await;
    create_flag(&mut operator, "dark-mode", boolean_flag(Vec::new())).await;
    let key = tenants
        .create_api_key(pb::CreateApiKeyRequest {
            parent: own.name.clone(),
            api_key: Some(pb::ApiKey {
                display_name: "flags".into(),
                scopes: vec!["config:write".into(), "config:read".into()],
                ..Default::default()
            }),
        })
        .await
        .expect("create key")
        .into_inner()
        .secret;
    let mut as_tenant = configs(&server.channel, &key);
    let on = pb::FlagOverride {
        variant: "on".into(),
        ..Default::default()
    };
    set_override(
        &mut as_tenant,
        &format!("{}/flagOverrides/dark-mode", own.name),
        on.clone(),
    )
    .await
    .expect("a tenant sets its own override");
    let answer = evaluate(
        &mut as_tenant,
        &own.name,
        "dark-mode",
        context("u", json!({})),
    )
    .await;
    assert_eq!(outcome(&answer), ("on".into(), R::TargetingMatch));
    let foreign = set_override(
        &mut as_tenant,
        &format!("{}/flagOverrides/dark-mode", other.name),
        on.clone(),
    )
    .await
    .expect_err("another tenant's override");
    assert_error(&foreign, Code::PermissionDenied, "TENANT_MISMATCH");
    let plan = set_override(&mut as_tenant, "plans/starter/flagOverrides/dark-mode", on)
        .await
        .expect_err("a plan's override is the operators'");
    assert_error(&plan, Code::PermissionDenied, "PLATFORM_SCOPE_REQUIRED");
    let answer = evaluate(
        &mut operator,
        &other.name,
        "dark-mode",
        context("u", json!({})),
    )
    .await;
    assert_eq!(outcome(&answer), ("off".into(), R::Static));
    server.stop().await;
}

crate::backend_tests!(
    plan_and_tenant_overrides_apply_in_order,
    tenant_keys_reach_only_their_own_overrides,
);
