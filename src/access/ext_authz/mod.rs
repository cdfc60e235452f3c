//! Envoy's external authorization (`envoy.service.auth.v3.Authorization`,
//! gRPC): a gateway asks, for each HTTP request, whether it may go
//! upstream and for which tenant.
//!
//! The gRPC call itself is the gateway's, admitted by the tenant context
//! layer like any call (a service or operator token). The HTTP request it
//! describes is then admitted by the same [`Gate`], with the same
//! authentication, tenant resolution (key, `x-tenant-id`, `x-tenant-slug`,
//! host: a verified custom domain, then `{slug}.{base domain}`) and checks
//! in the same order, so the two doors cannot drift apart. The request's
//! tenant spends its own budget (the bulkhead), as its calls through
//! tenantd's own API do.
//!
//! Every verdict is a `CheckResponse`: OK with the upstream headers and
//! dynamic metadata, or denied with an HTTP status and a JSON body carrying
//! the same `ErrorInfo` reason as the gRPC API ([`answer`]). Only a gateway
//! call that cannot be read at all is a gRPC error.

mod answer;
mod request;

use std::sync::Arc;

use tonic::{Request, Response, Status};

use crate::access::context;
use crate::access::gate::Gate;
use crate::common::ids::TenantId;
use crate::error::Result;
use envoy_types::pb::envoy::service::auth::v3::authorization_server::Authorization;
use envoy_types::pb::envoy::service::auth::v3::{CheckRequest, CheckResponse};

pub use answer::{HEADER_CALLER, HEADER_ID, HEADER_PLAN, HEADER_SLUG, METADATA_KEYS};
pub use request::SCOPE_EXTENSION;

/// The upstream headers' prefix unless the operator chooses another.
pub const DEFAULT_HEADER_PREFIX: &str = "x-tenant-";

/// What the answers hold, as the operator configured them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtAuthzSettings {
    /// Prefix of the upstream headers: `{prefix}id`, `{prefix}slug`,
    /// `{prefix}plan`, `{prefix}caller`.
    pub header_prefix: String,
    /// Whether the credential headers (`authorization`, `x-api-key`) are
    /// removed before the request goes upstream.
    pub strip_credentials: bool,
}

impl Default for ExtAuthzSettings {
    fn default() -> Self {
        Self {
            header_prefix: DEFAULT_HEADER_PREFIX.to_owned(),
            strip_credentials: false,
        }
    }
}

/// Each tenant's share of the replica, as the server keeps it.
pub trait TenantBudgets: Send + Sync + 'static {
    /// Admits one call of `tenant` within its budget, or refuses it
    /// (RESOURCE_EXHAUSTED); the slot is held until the guard drops.
    fn admit(&self, tenant: TenantId) -> Result<Box<dyn Send>>;
}

/// The Authorization service.
pub struct ExtAuthzApi {
    /// Admits the HTTP requests.
    gate: Gate,
    /// The budgets the requests' tenants spend.
    budgets: Arc<dyn TenantBudgets>,
    /// What the answers hold.
    settings: ExtAuthzSettings,
}

impl ExtAuthzApi {
    /// Serves verdicts from `gate`, within `budgets`.
    pub fn new(gate: Gate, budgets: Arc<dyn TenantBudgets>, settings: ExtAuthzSettings) -> Self {
        Self {
            gate,
            budgets,
            settings,
        }
    }

    /// The verdict on the HTTP request `check` describes.
    async fn verdict(&self, check: &CheckRequest) -> Result<CheckResponse> {
        let http = request::HttpRequest::read(check)?;
        let context = self.gate.admit_under(&http.rule(), &http.call()).await?;
        let tenant = context
            .tenant
            .as_ref()
            .ok_or_else(|| http.names_no_tenant())?;
        let _within_budget = context
            .budgeted_tenant()
            .map(|id| self.budgets.admit(id))
            .transpose()?;
        let strip = self.settings.strip_credentials;
        let removed = if strip {
            http.credential_headers()
        } else {
            Vec::new()
        };
        Ok(answer::allowed(&context, tenant, &self.settings, removed))
    }
}

#[tonic::async_trait]
impl Authorization for ExtAuthzApi {
    async fn check(
        &self,
        request: Request<CheckRequest>,
    ) -> Result<Response<CheckResponse>, Status> {
        // The gateway's own call, which the layer admitted.
        context(&request)?;
        let verdict = self.verdict(request.get_ref()).await;
        Ok(Response::new(verdict.unwrap_or_else(answer::denied)))
    }
}
