//! Who may manage which endpoints: a tenant's key with `webhooks:manage`
//! its own tenant's, never another tenant's nor the fleet's; a key
//! without the scope none; and a secret is shown at creation only.

use tenantd::pb;
use tonic::Code;

use super::receiver::{admin, as_caller, create_endpoint};
use crate::backend_tests;
use crate::support::server::Credentials;
use crate::support::status::assert_error;
use crate::support::{Backend, TestServer, fixtures};

backend_tests!(a_tenant_key_manages_its_own_endpoints_only);

async fn key(server: &TestServer, parent: &str, scopes: &[&str]) -> String {
    server
        .tenants()
        .create_api_key(pb::CreateApiKeyRequest {
            parent: parent.to_owned(),
            api_key: Some(pb::ApiKey {
                scopes: scopes.iter().map(|scope| (*scope).to_owned()).collect(),
                ..Default::default()
            }),
        })
        .await
        .expect("create key")
        .into_inner()
        .secret
}

async fn a_tenant_key_manages_its_own_endpoints_only(backend: Backend) {
    let server = TestServer::start_with(backend, |config| {
        config.webhooks.policy.allowed = vec!["127.0.0.1/32".parse().expect("cidr")];
    })
    .await;
    let mut tenants = server.tenants();
    let (a, b) = (
        fixtures::create(&mut tenants, "hooks-a").await,
        fixtures::create(&mut tenants, "hooks-b").await,
    );
    let mut operator = admin(&server.channel);
    let (b_endpoint, _) =
        create_endpoint(&mut operator, &b.name, "http://127.0.0.1:9/b", &[]).await;
    let (fleet_endpoint, _) =
        create_endpoint(&mut operator, "", "http://127.0.0.1:9/fleet", &[]).await;
    let mut key_a = as_caller(
        &server.channel,
        Credentials::bearer(&key(&server, &a.name, &["webhooks:manage"]).await),
    );

    let (own, secret) = create_endpoint(
        &mut key_a,
        &a.name,
        "http://127.0.0.1:9/a",
        &["tenant.updated"],
    )
    .await;
    assert!(
        own.name
            .starts_with(&format!("{}/webhookEndpoints/", a.name))
    );
    assert!(secret.starts_with("whsec_"));
    let got = key_a
        .get_webhook_endpoint(pb::GetWebhookEndpointRequest {
            name: own.name.clone(),
        })
        .await
        .expect("get own endpoint")
        .into_inner();
    assert_eq!(got, own, "read back without its secret");
    let listed = key_a
        .list_webhook_endpoints(pb::ListWebhookEndpointsRequest {
            parent: a.name.clone(),
            ..Default::default()
        })
        .await
        .expect("list own")
        .into_inner()
        .webhook_endpoints;
    assert_eq!(listed, vec![own.clone()]);

    // B's endpoints, named as B's.
    let refused = key_a
        .get_webhook_endpoint(pb::GetWebhookEndpointRequest {
            name: b_endpoint.name.clone(),
        })
        .await
        .expect_err("B's endpoint");
    assert_error(&refused, Code::PermissionDenied, "TENANT_MISMATCH");
    let refused = key_a
        .list_webhook_endpoints(pb::ListWebhookEndpointsRequest {
            parent: b.name.clone(),
            ..Default::default()
        })
        .await
        .expect_err("B's list");
    assert_error(&refused, Code::PermissionDenied, "TENANT_MISMATCH");
    let refused = key_a
        .delete_webhook_endpoint(pb::DeleteWebhookEndpointRequest {
            name: b_endpoint.name.clone(),
        })
        .await
        .expect_err("B's delete");
    assert_error(&refused, Code::PermissionDenied, "TENANT_MISMATCH");
    // B's endpoint id under A's name is simply not there.
    let b_id = b_endpoint.name.rsplit('/').next().expect("id");
    let refused = key_a
        .get_webhook_endpoint(pb::GetWebhookEndpointRequest {
            name: format!("{}/webhookEndpoints/{b_id}", a.name),
        })
        .await
        .expect_err("B's id under A");
    assert_error(&refused, Code::NotFound, "WEBHOOK_ENDPOINT_NOT_FOUND");
    // The fleet's endpoints are the operators'.
    for attempt in [
        key_a
            .get_webhook_endpoint(pb::GetWebhookEndpointRequest {
                name: fleet_endpoint.name.clone(),
            })
            .await
            .map(|_| ()),
        key_a
            .list_webhook_endpoints(pb::ListWebhookEndpointsRequest::default())
            .await
            .map(|_| ()),
        key_a
            .create_webhook_endpoint(pb::CreateWebhookEndpointRequest {
                parent: String::new(),
                webhook_endpoint: Some(pb::WebhookEndpoint {
                    url: "http://127.0.0.1:9/mine".to_owned(),
                    ..Default::default()
                }),
            })
            .await
            .map(|_| ()),
    ] {
        assert_error(
            &attempt.expect_err("fleet"),
            Code::PermissionDenied,
            "PLATFORM_SCOPE_REQUIRED",
        );
    }
    // Without the scope, nothing.
    let mut reader = as_caller(
        &server.channel,
        Credentials::bearer(&key(&server, &a.name, &["tenant:read"]).await),
    );
    let refused = reader
        .list_webhook_endpoints(pb::ListWebhookEndpointsRequest {
            parent: a.name.clone(),
            ..Default::default()
        })
        .await
        .expect_err("no scope");
    assert_error(&refused, Code::PermissionDenied, "SCOPE_MISSING");

    key_a
        .delete_webhook_endpoint(pb::DeleteWebhookEndpointRequest {
            name: own.name.clone(),
        })
        .await
        .expect("delete own");
    let gone = key_a
        .get_webhook_endpoint(pb::GetWebhookEndpointRequest {
            name: own.name.clone(),
        })
        .await
        .expect_err("deleted");
    assert_error(&gone, Code::NotFound, "WEBHOOK_ENDPOINT_NOT_FOUND");
    let fleet = operator
        .list_webhook_endpoints(pb::ListWebhookEndpointsRequest::default())
        .await
        .expect("fleet list")
        .into_inner()
        .webhook_endpoints;
    assert_eq!(
        fleet,
        vec![fleet_endpoint],
        "tenants' endpoints are not the fleet's"
    );
    server.stop().await;
}
