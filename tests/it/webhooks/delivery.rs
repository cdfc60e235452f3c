//! Deliveries as a receiver sees them: signed so that the Standard
//! Webhooks reference implementation verifies them, the CloudEvent in the
//! body, `webhook-id` its id, a tenant's endpoint getting only its
//! tenant's events and a filter only its types.

use std::time::Duration;

use tenantd::pb;

use super::receiver::{Receiver, admin, create_endpoint, deliveries};
use crate::backend_tests;
use crate::support::{Backend, TestServer, fixtures};

backend_tests!(deliveries_verify_with_an_independent_implementation);

/// A server that may post to loopback and polls fast.
pub async fn server(backend: Backend) -> TestServer {
    TestServer::start_with(backend, |config| {
        config.webhooks.policy.allowed = vec!["127.0.0.0/8".parse().expect("cidr")];
        config.webhooks.poll_interval = Duration::from_millis(50);
    })
    .await
}

async fn deliveries_verify_with_an_independent_implementation(backend: Backend) {
    let server = server(backend).await;
    let mut tenants = server.tenants();
    let own = fixtures::create(&mut tenants, "hooked").await;
    let other = fixtures::create(&mut tenants, "unhooked").await;
    let (tenant_receiver, fleet_receiver) = (Receiver::start(), Receiver::start());
    let mut webhooks = admin(&server.channel);
    let (own_endpoint, own_secret) =
        create_endpoint(&mut webhooks, &own.name, &tenant_receiver.url("/own"), &[]).await;
    tenant_receiver.set_secret(&own_secret).await;
    let (_, fleet_secret) = create_endpoint(
        &mut webhooks,
        "",
        &fleet_receiver.url("/fleet"),
        &["dev.tenantd.tenant.created.v1"],
    )
    .await;
    fleet_receiver.set_secret(&fleet_secret).await;
    assert!(own_secret.starts_with("whsec_") && own_secret != fleet_secret);

    for tenant in [&own, &other] {
        let mut changed = tenant.clone();
        changed.display_name = "Renamed".to_owned();
        tenants
            .update_tenant(pb::UpdateTenantRequest {
                tenant: Some(changed),
                update_mask: fixtures::mask(&["display_name"]),
            })
            .await
            .expect("update tenant");
    }
    fixtures::create_domain(&mut tenants, &own.name, "hooked.example.com").await;
    let later = fixtures::create(&mut tenants, "later").await;

    tenant_receiver
        .wait_for(Duration::from_secs(20), |records| records.len() >= 2)
        .await;
    fleet_receiver
        .wait_for(Duration::from_secs(20), |records| !records.is_empty())
        .await;
    // Anything that should not have come has had time to.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let own_records = tenant_receiver.records().await;
    let fleet_records = fleet_receiver.records().await;

    let own_id = own.name.trim_start_matches("tenants/");
    let types: Vec<&str> = own_records
        .iter()
        .map(|record| record["event"]["type"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        types,
        [
            "dev.tenantd.tenant.updated.v1",
            "dev.tenantd.domain.added.v1"
        ],
        "the tenant's endpoint gets its tenant's events, in order: {own_records:?}"
    );
    for record in own_records.iter().chain(&fleet_records) {
        assert_eq!(
            record["verified"], true,
            "standardwebhooks refused {record}"
        );
        assert_eq!(record["content_type"], "application/cloudevents+json");
        assert_eq!(record["webhook_id"], record["event"]["id"]);
        assert_eq!(record["event"]["specversion"], "1.0");
    }
    for record in &own_records {
        assert_eq!(record["event"]["tenantid"], own_id);
        assert_eq!(record["event"]["subject"], own.name);
    }
    assert_eq!(
        fleet_records.len(),
        1,
        "only the tenant created after the fleet endpoint: {fleet_records:?}"
    );
    assert_eq!(fleet_records[0]["event"]["subject"], later.name);

    let listed = deliveries(&mut webhooks, &own_endpoint.name).await;
    assert_eq!(listed.len(), 2);
    for delivery in &listed {
        assert_eq!(delivery.state, pb::WebhookDeliveryState::Delivered as i32);
        assert_eq!(delivery.attempts.len(), 1);
        assert_eq!(delivery.attempts[0].status_code, 204);
        assert!(delivery.attempts[0].error.is_empty());
    }
    assert!(listed[0].sequence > listed[1].sequence, "newest first");
    server.stop().await;
}
