//! TenantService: decode, call the tenant directory, encode. No logic here
//! beyond picking the right conversion.
//!
//! Every handler has one shape: open the call (its tenant context and
//! body: [`crate::access::open`]; scoped to the tenant it names:
//! [`crate::tenancy::grpc::call`]), convert the body (validation happens
//! there), call the directory, convert the answer back, each step with `?`.

use std::sync::Arc;

use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status, Streaming};

use crate::access::key_convert as api_keys;
use crate::access::{ApiKeys, Gate, TenantContext, TenantScope, open, open_platform};
use crate::common::ids::{ApiKeyName, AuditParent, DomainName, TenantRef};
use crate::common::paging::page_size;
use crate::error::Error;
use crate::pb;
use crate::pb::tenant_service_server::TenantService;
use crate::rpc::Reply;
use crate::rpc::convert::{etag, required};
use crate::tenancy::grpc::archive as tenant_archive;
use crate::tenancy::grpc::call::{AuditReach, Lifecycle, Names, Scoped, UnderTenant, tenant_reply};
use crate::tenancy::grpc::convert;
use crate::tenancy::grpc::patch;
use crate::tenancy::grpc::resolve::{self, Resolve};
use crate::tenancy::health::TenantHealthSource;
use crate::tenancy::lifecycle::Transition;
use crate::tenancy::tenants::Tenants;

/// The TenantService implementation.
pub struct TenantApi {
    /// The tenant directory.
    tenants: Tenants,
    /// The tenants' API keys.
    keys: ApiKeys,
    /// Scopes callers to the tenants they may reach, and resolves.
    gate: Gate,
    /// How tenants' calls went (GetTenantHealth).
    health: Arc<dyn TenantHealthSource>,
}

impl TenantApi {
    /// Serves `tenants` and their `keys`, reached through `gate`, and
    /// their service levels from `health`.
    pub fn new(
        tenants: Tenants,
        keys: ApiKeys,
        gate: Gate,
        health: Arc<dyn TenantHealthSource>,
    ) -> Self {
        Self {
            tenants,
            keys,
            gate,
            health,
        }
    }

    /// The scope of the tenant `name` (field `field`) names, for `context`.
    async fn scope(
        &self,
        context: &TenantContext,
        name: &str,
        field: &str,
    ) -> Result<TenantScope, Error> {
        let by = TenantRef::parse_name(name, field)?;
        self.gate.scope_for(context, &by).await
    }

    /// Opens a call whose body names its tenant, scoped to that tenant.
    async fn scoped<R: Names>(&self, request: Request<R>) -> Result<Scoped<R>, Status> {
        let (context, body) = open(request)?;
        let scope = self.scope(&context, body.name(), R::FIELD).await?;
        Ok((body, scope, context.origin("")))
    }

    /// Opens a call whose body names a resource under one tenant, scoped
    /// to that tenant; answers the parsed name too.
    async fn under<R: Names, N: UnderTenant>(
        &self,
        request: Request<R>,
    ) -> Result<(Scoped<R>, N), Status> {
        let (context, body) = open(request)?;
        let name = N::parse_from(body.name(), R::FIELD)?;
        let scope = self.gate.scope_for(&context, name.tenant()).await?;
        Ok(((body, scope, context.origin("")), name))
    }

    /// DeleteTenant, UndeleteTenant, SuspendTenant and ActivateTenant: the
    /// change `change` reads from the body (once the gate let the caller
    /// reach the tenant), made while the tenant has the body's etag.
    async fn transition<R: Lifecycle>(
        &self,
        request: Request<R>,
        change: impl FnOnce(&R) -> Result<Transition<'_>, Error>,
    ) -> Reply<pb::Tenant> {
        let (body, scope, origin) = self.scoped(request).await?;
        let (transition, etag) = (change(&body)?, etag(body.etag()));
        let changed = self.tenants.transition(&scope, &origin, etag, transition);
        tenant_reply(&changed.await?)
    }

    /// Where the audit listing of `parent` reads, for `context`.
    async fn audit_reach(
        &self,
        context: &TenantContext,
        parent: &AuditParent,
    ) -> Result<AuditReach, Error> {
        Ok(match parent {
            AuditParent::AllTenants => AuditReach::AllTenants(context.platform()?),
            AuditParent::Tenant(by) => AuditReach::Tenant(self.gate.scope_for(context, by).await?),
        })
    }
}

#[tonic::async_trait]
impl TenantService for TenantApi {
    async fn create_tenant(&self, request: Request<pb::CreateTenantRequest>) -> Reply<pb::Tenant> {
        let (platform, context, body) = open_platform(request)?;
        let create = convert::create_tenant(&body)?;
        let origin = context.origin(&body.request_id);
        tenant_reply(&self.tenants.create(&platform, &origin, create).await?)
    }

    async fn get_tenant(&self, request: Request<pb::GetTenantRequest>) -> Reply<pb::Tenant> {
        let (_, scope, _) = self.scoped(request).await?;
        tenant_reply(&self.tenants.get(&scope).await?)
    }

    async fn list_tenants(
        &self,
        request: Request<pb::ListTenantsRequest>,
    ) -> Reply<pb::ListTenantsResponse> {
        let (platform, _, body) = open_platform(request)?;
        let list = convert::list_tenants(body)?;
        let (tenants, next_page_token) = self.tenants.list(&platform, &list).await?;
        Ok(Response::new(convert::tenants_page(
            &tenants,
            next_page_token,
        )))
    }

    async fn update_tenant(&self, request: Request<pb::UpdateTenantRequest>) -> Reply<pb::Tenant> {
        let (context, body) = open(request)?;
        let tenant = required(body.tenant.as_ref(), "tenant")?;
        let scope = self.scope(&context, &tenant.name, "tenant.name").await?;
        let patch = patch::tenant_patch(tenant, body.update_mask.as_ref())?;
        let (etag, origin) = (etag(&tenant.etag), context.origin(""));
        tenant_reply(&self.tenants.update(&scope, &origin, etag, &patch).await?)
    }

    crate::rpc::forward! {
        delete_tenant(pb::DeleteTenantRequest) -> pb::Tenant
            => self.transition(|_| Ok(Transition::Delete));
        undelete_tenant(pb::UndeleteTenantRequest) -> pb::Tenant
            => self.transition(|_| Ok(Transition::Undelete));
        suspend_tenant(pb::SuspendTenantRequest) -> pb::Tenant
            => self.transition(|body| convert::reason(&body.reason, true).map(Transition::Suspend));
        activate_tenant(pb::ActivateTenantRequest) -> pb::Tenant
            => self.transition(|body| {
                convert::reason(&body.reason, false).map(|_| Transition::Activate)
            });
    }

    async fn create_domain(&self, request: Request<pb::CreateDomainRequest>) -> Reply<pb::Domain> {
        let (body, scope, origin) = self.scoped(request).await?;
        let hostname = convert::new_domain(body.domain.as_ref())?;
        let created = self.tenants.create_domain(&scope, &origin, hostname);
        Ok(Response::new(pb::Domain::from(&created.await?)))
    }

    async fn list_domains(
        &self,
        request: Request<pb::ListDomainsRequest>,
    ) -> Reply<pb::ListDomainsResponse> {
        let (body, scope, _) = self.scoped(request).await?;
        let size = page_size(body.page_size, "page_size")?;
        let page = self.tenants.list_domains(&scope, size, &body.page_token);
        let (domains, next_page_token) = page.await?;
        Ok(Response::new(convert::domains_page(
            &domains,
            next_page_token,
        )))
    }

    async fn delete_domain(&self, request: Request<pb::DeleteDomainRequest>) -> Reply<()> {
        let ((_, scope, origin), name) = self.under::<_, DomainName>(request).await?;
        self.tenants.delete_domain(&scope, &origin, &name).await?;
        Ok(Response::new(()))
    }

    async fn verify_domain(&self, request: Request<pb::VerifyDomainRequest>) -> Reply<pb::Domain> {
        let ((_, scope, origin), name) = self.under::<_, DomainName>(request).await?;
        let domain = self.tenants.verify_domain(&scope, &origin, &name).await?;
        Ok(Response::new(pb::Domain::from(&domain)))
    }

    async fn create_api_key(
        &self,
        request: Request<pb::CreateApiKeyRequest>,
    ) -> Reply<pb::CreateApiKeyResponse> {
        let (body, scope, origin) = self.scoped(request).await?;
        let new = api_keys::new_api_key(&body)?;
        let issued = self.keys.create_api_key(&scope, &origin, new).await?;
        Ok(Response::new(api_keys::issued(issued)))
    }

    async fn list_api_keys(
        &self,
        request: Request<pb::ListApiKeysRequest>,
    ) -> Reply<pb::ListApiKeysResponse> {
        let (body, scope, _) = self.scoped(request).await?;
        let size = page_size(body.page_size, "page_size")?;
        let (show_revoked, token) = (body.show_revoked, &body.page_token);
        let page = self.keys.list_api_keys(&scope, show_revoked, size, token);
        let (keys, next_page_token) = page.await?;
        Ok(Response::new(api_keys::api_keys_page(
            &keys,
            next_page_token,
        )))
    }

    async fn revoke_api_key(&self, request: Request<pb::RevokeApiKeyRequest>) -> Reply<pb::ApiKey> {
        let ((_, scope, origin), name) = self.under::<_, ApiKeyName>(request).await?;
        let key = self.keys.revoke_api_key(&scope, &origin, &name).await?;
        Ok(Response::new(api_keys::api_key(&key, chrono::Utc::now())))
    }

    async fn rotate_api_key(
        &self,
        request: Request<pb::RotateApiKeyRequest>,
    ) -> Reply<pb::RotateApiKeyResponse> {
        let ((body, scope, origin), name) = self.under::<_, ApiKeyName>(request).await?;
        let overlap = api_keys::overlap(body.overlap.as_ref())?;
        let rotation = self.keys.rotate_api_key(&scope, &origin, &name, overlap);
        let answer = api_keys::rotation(&rotation.await?, chrono::Utc::now());
        Ok(Response::new(answer))
    }

    async fn list_audit_events(
        &self,
        request: Request<pb::ListAuditEventsRequest>,
    ) -> Reply<pb::ListAuditEventsResponse> {
        let (context, body) = open(request)?;
        let parent = AuditParent::parse(&body.parent, "parent")?;
        let size = page_size(body.page_size, "page_size")?;
        let reach = self.audit_reach(&context, &parent).await?;
        let (token, filter) = (&body.page_token, &body.filter);
        let page = self
            .tenants
            .list_audit_events(reach.scope(), size, token, filter);
        let (events, next_page_token) = page.await?;
        Ok(Response::new(convert::audit_page(events, next_page_token)))
    }

    async fn resolve_tenant(
        &self,
        request: Request<pb::ResolveTenantRequest>,
    ) -> Reply<pb::ResolveTenantResponse> {
        // The layer admitted only callers allowed to resolve any tenant.
        let answer = match resolve::resolve_request(request.into_inner().target)? {
            Resolve::Target(target) => {
                let (tenant, by) = self.gate.resolve(&target).await?;
                resolve::resolve_response(&tenant, by)
            }
            Resolve::Credential(credential) => {
                let found = self.gate.resolve_credential(&credential).await?;
                resolve::credential_response(&found.tenant, &found.caller, found.expire_time)
            }
        };
        Ok(Response::new(answer))
    }

    async fn export_tenant(
        &self,
        request: Request<pb::ExportTenantRequest>,
    ) -> Reply<BoxStream<pb::ExportTenantResponse>> {
        let (_, scope, _) = self.scoped(request).await?;
        let archive = self.tenants.export(&scope).await?;
        let responses = tenant_archive::chunks(&archive)
            .into_iter()
            .map(|chunk| Ok(pb::ExportTenantResponse { chunk: Some(chunk) }));
        Ok(Response::new(Box::pin(tokio_stream::iter(responses))))
    }

    async fn get_tenant_health(
        &self,
        request: Request<pb::GetTenantHealthRequest>,
    ) -> Reply<pb::TenantHealth> {
        let (_, scope, _) = self.scoped(request).await?;
        let tenant = self.tenants.get(&scope).await?;
        Ok(Response::new(self.health.tenant_health(&tenant).await?))
    }

    async fn import_tenant(
        &self,
        request: Request<Streaming<pb::ImportTenantRequest>>,
    ) -> Reply<pb::Tenant> {
        let (platform, context, stream) = open_platform(request)?;
        let (options, archive) = tenant_archive::receive_import(stream).await?;
        let origin = context.origin("");
        let imported = self.tenants.import(&platform, &origin, archive, options);
        tenant_reply(&imported.await?)
    }
}
