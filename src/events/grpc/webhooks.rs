//! WebhookService: decode, find whose endpoint it is and whether the
//! caller may act for that owner, call the webhooks, encode.
//!
//! Invariant: a tenant's key reaches its own tenant's endpoints only (the
//! gate's scope, then RLS); the fleet's endpoints need the platform
//! scope, which only operators have.

use tonic::{Request, Response};

use crate::access::{Gate, TenantContext, open};
use crate::common::ids::{TenantId, TenantRef};
use crate::common::paging::page_size;
use crate::error::{Error, Result};
use crate::events::grpc::webhook_convert::{delivery, endpoint, state_filter};
use crate::events::webhooks::Webhooks;
use crate::events::webhooks::endpoint::{DeliveryName, EndpointName, NewEndpoint, Owner};
use crate::pb;
use crate::pb::webhook_service_server::WebhookService;
use crate::rpc::Reply;
use crate::store::scope::Scope;

/// The WebhookService implementation.
pub struct WebhookApi {
    /// Endpoints and deliveries.
    webhooks: Webhooks,
    /// Who may act for which tenant.
    gate: Gate,
}

impl WebhookApi {
    /// Serves `webhooks`, callers checked by `gate`.
    pub fn new(webhooks: Webhooks, gate: Gate) -> Self {
        Self { webhooks, gate }
    }

    /// The scope and owner of an endpoint owned as `owner` says, for the
    /// caller in `context`.
    async fn owner(
        &self,
        context: &TenantContext,
        owner: &Owner<TenantRef>,
    ) -> Result<(Scope, Option<TenantId>)> {
        match owner {
            Owner::Tenant(tenant) => {
                let scope = self.gate.scope_for(context, tenant).await?;
                Ok((Scope::from(&scope), Some(scope.tenant_id())))
            }
            Owner::Fleet => Ok((Scope::from(&context.platform()?), None)),
        }
    }

    /// The scope and owner a `parent` names: a tenant, or (empty) the fleet.
    async fn parent(
        &self,
        context: &TenantContext,
        parent: &str,
    ) -> Result<(Scope, Option<TenantId>)> {
        let owner = if parent.is_empty() {
            Owner::Fleet
        } else {
            Owner::Tenant(TenantRef::parse_name(parent, "parent")?)
        };
        self.owner(context, &owner).await
    }
}

fn not_found(name: &str) -> Error {
    Error::NotFound {
        kind: "webhook_endpoint",
        name: name.to_owned(),
    }
}

#[tonic::async_trait]
impl WebhookService for WebhookApi {
    async fn create_webhook_endpoint(
        &self,
        request: Request<pb::CreateWebhookEndpointRequest>,
    ) -> Reply<pb::CreateWebhookEndpointResponse> {
        let (context, body) = open(request)?;
        let given = body
            .webhook_endpoint
            .ok_or_else(|| Error::invalid_field("webhook_endpoint", "is required"))?;
        let new = NewEndpoint::parse(&given.url, &given.event_types, "webhook_endpoint")?;
        let (scope, owner) = self.parent(&context, &body.parent).await?;
        let origin = context.origin("");
        let (created, secret) = self.webhooks.create(scope, &origin, owner, new).await?;
        Ok(Response::new(pb::CreateWebhookEndpointResponse {
            webhook_endpoint: Some(endpoint(&created)),
            secret: secret.expose().to_owned(),
        }))
    }

    async fn get_webhook_endpoint(
        &self,
        request: Request<pb::GetWebhookEndpointRequest>,
    ) -> Reply<pb::WebhookEndpoint> {
        let (context, body) = open(request)?;
        let name = EndpointName::parse(&body.name, "name")?;
        let (scope, owner) = self.owner(&context, &name.owner).await?;
        let found = self.webhooks.get(scope, owner, name.id).await?;
        let found = found.ok_or_else(|| not_found(&body.name))?;
        Ok(Response::new(endpoint(&found)))
    }

    async fn list_webhook_endpoints(
        &self,
        request: Request<pb::ListWebhookEndpointsRequest>,
    ) -> Reply<pb::ListWebhookEndpointsResponse> {
        let (context, body) = open(request)?;
        let size = page_size(body.page_size, "page_size")?;
        let (scope, owner) = self.parent(&context, &body.parent).await?;
        let owner_key = owner.map(|id| id.to_string()).unwrap_or_default();
        let webhooks = &self.webhooks;
        let list = async |after: Option<String>, limit: u64| {
            let after = after
                .map(|key| {
                    uuid::Uuid::parse_str(&key).map_err(|_| {
                        Error::invalid_field("page_token", "was not issued by this server")
                    })
                })
                .transpose()?;
            webhooks.list(scope.clone(), owner, after, limit).await
        };
        let (page, next_page_token) = webhooks
            .page_tokens()
            .page(
                &["webhookEndpoints", &owner_key],
                size,
                &body.page_token,
                list,
                |found| found.id.to_string(),
            )
            .await?;
        Ok(Response::new(pb::ListWebhookEndpointsResponse {
            webhook_endpoints: page.iter().map(endpoint).collect(),
            next_page_token,
        }))
    }

    async fn delete_webhook_endpoint(
        &self,
        request: Request<pb::DeleteWebhookEndpointRequest>,
    ) -> Reply<()> {
        let (context, body) = open(request)?;
        let name = EndpointName::parse(&body.name, "name")?;
        let (scope, owner) = self.owner(&context, &name.owner).await?;
        let origin = context.origin("");
        if !self.webhooks.delete(scope, &origin, owner, name.id).await? {
            return Err(not_found(&body.name).into());
        }
        Ok(Response::new(()))
    }

    async fn list_webhook_deliveries(
        &self,
        request: Request<pb::ListWebhookDeliveriesRequest>,
    ) -> Reply<pb::ListWebhookDeliveriesResponse> {
        let (context, body) = open(request)?;
        let name = EndpointName::parse(&body.parent, "parent")?;
        let size = page_size(body.page_size, "page_size")?;
        let state = state_filter(body.state)?;
        let (scope, owner) = self.owner(&context, &name.owner).await?;
        if self
            .webhooks
            .get(scope.clone(), owner, name.id)
            .await?
            .is_none()
        {
            return Err(not_found(&body.parent).into());
        }
        let webhooks = &self.webhooks;
        let list = async |before: Option<String>, limit: u64| {
            let before = before
                .map(|key| {
                    key.parse::<i64>().map_err(|_| {
                        Error::invalid_field("page_token", "was not issued by this server")
                    })
                })
                .transpose()?;
            webhooks
                .deliveries(scope.clone(), (owner, name.id), state, before, limit)
                .await
        };
        let query = [body.parent.as_str(), &body.state.to_string()];
        let (page, next_page_token) = webhooks
            .page_tokens()
            .page(&query, size, &body.page_token, list, |found| {
                found.sequence.to_string()
            })
            .await?;
        Ok(Response::new(pb::ListWebhookDeliveriesResponse {
            webhook_deliveries: page.iter().map(delivery).collect(),
            next_page_token,
        }))
    }

    async fn redeliver_webhook_delivery(
        &self,
        request: Request<pb::RedeliverWebhookDeliveryRequest>,
    ) -> Reply<pb::WebhookDelivery> {
        let (context, body) = open(request)?;
        let name = DeliveryName::parse(&body.name, "name")?;
        let (scope, owner) = self.owner(&context, &name.endpoint.owner).await?;
        let origin = context.origin("");
        let endpoint = (owner, name.endpoint.id);
        let redelivered = self
            .webhooks
            .redeliver(scope, &origin, endpoint, name.sequence)
            .await?;
        let redelivered = redelivered.ok_or_else(|| Error::NotFound {
            kind: "webhook_delivery",
            name: body.name.clone(),
        })?;
        Ok(Response::new(delivery(&redelivered)))
    }
}
