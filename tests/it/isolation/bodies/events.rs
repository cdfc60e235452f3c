//! WebhookService bodies: the webhook methods act on tenant A's
//! endpoints, those named by id not existing.

use tenantd::pb;
use tonic::Code;
use uuid::Uuid;

use super::{Named, Rpc, ok, refused};

/// The body of a WebhookService RPC naming `tenant`.
pub(super) fn webhook_body(rpc: &Rpc, tenant: &Named) -> (Vec<u8>, super::Expected) {
    let parent = format!("tenants/{}", tenant.id);
    let missing = format!("{parent}/webhookEndpoints/{}", Uuid::new_v4());
    let endpoint_missing = (Code::NotFound, "WEBHOOK_ENDPOINT_NOT_FOUND");
    match rpc.method.as_str() {
        "CreateWebhookEndpoint" => ok(pb::CreateWebhookEndpointRequest {
            parent,
            webhook_endpoint: Some(pb::WebhookEndpoint {
                // A public address given literally (nothing is resolved),
                // for an event type A never has, so nothing is sent.
                url: "https://1.1.1.1/isolation".to_owned(),
                event_types: vec!["tenant.purged".to_owned()],
                ..Default::default()
            }),
        }),
        "GetWebhookEndpoint" => refused(
            pb::GetWebhookEndpointRequest { name: missing },
            endpoint_missing.0,
            endpoint_missing.1,
        ),
        "ListWebhookEndpoints" => ok(pb::ListWebhookEndpointsRequest {
            parent,
            ..Default::default()
        }),
        "DeleteWebhookEndpoint" => refused(
            pb::DeleteWebhookEndpointRequest { name: missing },
            endpoint_missing.0,
            endpoint_missing.1,
        ),
        "ListWebhookDeliveries" => refused(
            pb::ListWebhookDeliveriesRequest {
                parent: missing,
                ..Default::default()
            },
            endpoint_missing.0,
            endpoint_missing.1,
        ),
        "RedeliverWebhookDelivery" => refused(
            pb::RedeliverWebhookDeliveryRequest {
                name: format!("{missing}/deliveries/1"),
            },
            Code::NotFound,
            "WEBHOOK_DELIVERY_NOT_FOUND",
        ),
        other => panic!("no isolation body for WebhookService.{other}"),
    }
}
