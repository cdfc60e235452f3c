//! TenantService: decode, call the tenant directory, encode. No logic here
//! beyond picking the right conversion.

use tonic::codegen::BoxStream;
use tonic::{Request, Response, Streaming};

use crate::access::Gate;
use crate::access::ResolveTarget;
use crate::access::TenantContext;
use crate::access::context;
use crate::access::key_convert as api_keys;
use crate::common::ids::{ApiKeyName, AuditParent, DomainName, TenantId, TenantRef, request_id};
use crate::common::paging::page_size;
use crate::common::validate;
use crate::error::Error;
use crate::pb;
use crate::pb::resolve_tenant_request::Target;
use crate::pb::tenant_service_server::TenantService;
use crate::rpc::convert::etag;
use crate::rpc::{Reply, reply};
use crate::tenancy::audit::AuditScope;
use crate::tenancy::grpc::archive as tenant_archive;
use crate::tenancy::grpc::convert;
use crate::tenancy::tenants::{CreateTenant, ListTenants, Tenants};

/// The TenantService implementation.
pub struct TenantApi {
    /// The tenant directory.
    tenants: Tenants,
    /// Scopes callers to the tenants they may reach, and resolves.
    gate: Gate,
}

impl TenantApi {
    /// Serves `tenants`, reached through `gate`.
    pub fn new(tenants: Tenants, gate: Gate) -> Self {
        Self { tenants, gate }
    }

    /// The scope of the tenant `name` (field `field`) names, for `context`.
    async fn scope(
        &self,
        context: &TenantContext,
        name: &str,
        field: &str,
    ) -> Result<crate::access::TenantScope, Error> {
        let by = TenantRef::parse_name(name, field)?;
        self.gate.scope_for(context, &by).await
    }
}

/// Validates the `reason` of a state change.
fn check_reason(reason: &str, required: bool) -> Result<(), Error> {
    let mut violations = Vec::new();
    validate::reason(reason, "reason", required, &mut violations);
    if violations.is_empty() {
        Ok(())
    } else {
        Err(Error::InvalidArgument(violations))
    }
}

#[tonic::async_trait]
impl TenantService for TenantApi {
    async fn create_tenant(&self, request: Request<pb::CreateTenantRequest>) -> Reply<pb::Tenant> {
        let context = context(&request)?;
        let request = request.into_inner();
        let origin = context.origin(&request.request_id);
        let result = async {
            let platform = context.platform()?;
            let tenant = convert::new_tenant(&request)?;
            let request_id = request_id(&request.request_id)?;
            self.tenants
                .create(&platform, &origin, CreateTenant { tenant, request_id })
                .await
        }
        .await;
        reply(result, |tenant| pb::Tenant::from(&tenant))
    }

    async fn get_tenant(&self, request: Request<pb::GetTenantRequest>) -> Reply<pb::Tenant> {
        let context = context(&request)?;
        let request = request.into_inner();
        let result = async {
            let scope = self.scope(&context, &request.name, "name").await?;
            self.tenants.get(&scope).await
        }
        .await;
        reply(result, |tenant| pb::Tenant::from(&tenant))
    }

    async fn list_tenants(
        &self,
        request: Request<pb::ListTenantsRequest>,
    ) -> Reply<pb::ListTenantsResponse> {
        let context = context(&request)?;
        let request = request.into_inner();
        let result = async {
            let platform = context.platform()?;
            let list = ListTenants {
                page_size: page_size(request.page_size, "page_size")?,
                page_token: request.page_token,
                filter: request.filter,
                show_deleted: request.show_deleted,
            };
            self.tenants.list(&platform, &list).await
        }
        .await;
        reply(result, |(tenants, next_page_token)| {
            pb::ListTenantsResponse {
                tenants: tenants.iter().map(pb::Tenant::from).collect(),
                next_page_token,
            }
        })
    }

    async fn update_tenant(&self, request: Request<pb::UpdateTenantRequest>) -> Reply<pb::Tenant> {
        let context = context(&request)?;
        let origin = context.origin("");
        let request = request.into_inner();
        let result = async {
            let Some(tenant) = &request.tenant else {
                return Err(Error::invalid_field("tenant", "is required"));
            };
            let scope = self.scope(&context, &tenant.name, "tenant.name").await?;
            let patch = convert::tenant_patch(tenant, request.update_mask.as_ref())?;
            self.tenants
                .update(&scope, &origin, etag(&tenant.etag), &patch)
                .await
        }
        .await;
        reply(result, |tenant| pb::Tenant::from(&tenant))
    }

    async fn delete_tenant(&self, request: Request<pb::DeleteTenantRequest>) -> Reply<pb::Tenant> {
        let context = context(&request)?;
        let origin = context.origin("");
        let request = request.into_inner();
        let result = async {
            let scope = self.scope(&context, &request.name, "name").await?;
            self.tenants
                .delete(&scope, &origin, etag(&request.etag))
                .await
        }
        .await;
        reply(result, |tenant| pb::Tenant::from(&tenant))
    }

    async fn undelete_tenant(
        &self,
        request: Request<pb::UndeleteTenantRequest>,
    ) -> Reply<pb::Tenant> {
        let context = context(&request)?;
        let origin = context.origin("");
        let request = request.into_inner();
        let result = async {
            let scope = self.scope(&context, &request.name, "name").await?;
            self.tenants
                .undelete(&scope, &origin, etag(&request.etag))
                .await
        }
        .await;
        reply(result, |tenant| pb::Tenant::from(&tenant))
    }

    async fn suspend_tenant(
        &self,
        request: Request<pb::SuspendTenantRequest>,
    ) -> Reply<pb::Tenant> {
        let context = context(&request)?;
        let origin = context.origin("");
        let request = request.into_inner();
        let result = async {
            let scope = self.scope(&context, &request.name, "name").await?;
            check_reason(&request.reason, true)?;
            self.tenants
                .suspend(&scope, &origin, etag(&request.etag), request.reason.trim())
                .await
        }
        .await;
        reply(result, |tenant| pb::Tenant::from(&tenant))
    }

    async fn activate_tenant(
        &self,
        request: Request<pb::ActivateTenantRequest>,
    ) -> Reply<pb::Tenant> {
        let context = context(&request)?;
        let origin = context.origin("");
        let request = request.into_inner();
        let result = async {
            let scope = self.scope(&context, &request.name, "name").await?;
            check_reason(&request.reason, false)?;
            self.tenants
                .activate(&scope, &origin, etag(&request.etag))
                .await
        }
        .await;
        reply(result, |tenant| pb::Tenant::from(&tenant))
    }

    async fn create_domain(&self, request: Request<pb::CreateDomainRequest>) -> Reply<pb::Domain> {
        let context = context(&request)?;
        let origin = context.origin("");
        let request = request.into_inner();
        let result = async {
            let scope = self.scope(&context, &request.parent, "parent").await?;
            let Some(domain) = &request.domain else {
                return Err(Error::invalid_field("domain", "is required"));
            };
            let hostname = validate::hostname(&domain.hostname, "domain.hostname")
                .map_err(|violation| Error::InvalidArgument(vec![violation]))?;
            self.tenants.create_domain(&scope, &origin, hostname).await
        }
        .await;
        reply(result, |domain| pb::Domain::from(&domain))
    }

    async fn list_domains(
        &self,
        request: Request<pb::ListDomainsRequest>,
    ) -> Reply<pb::ListDomainsResponse> {
        let context = context(&request)?;
        let request = request.into_inner();
        let result = async {
            let scope = self.scope(&context, &request.parent, "parent").await?;
            let size = page_size(request.page_size, "page_size")?;
            self.tenants
                .list_domains(&scope, size, &request.page_token)
                .await
        }
        .await;
        reply(result, |(domains, next_page_token)| {
            pb::ListDomainsResponse {
                domains: domains.iter().map(pb::Domain::from).collect(),
                next_page_token,
            }
        })
    }

    async fn delete_domain(&self, request: Request<pb::DeleteDomainRequest>) -> Reply<()> {
        let context = context(&request)?;
        let origin = context.origin("");
        let request = request.into_inner();
        let result = async {
            let name = DomainName::parse(&request.name, "name")?;
            let scope = self.gate.scope_for(&context, &name.tenant).await?;
            self.tenants.delete_domain(&scope, &origin, &name).await
        }
        .await;
        reply(result, |_| ())
    }

    async fn verify_domain(&self, request: Request<pb::VerifyDomainRequest>) -> Reply<pb::Domain> {
        let context = context(&request)?;
        let origin = context.origin("");
        let request = request.into_inner();
        let result = async {
            let name = DomainName::parse(&request.name, "name")?;
            let scope = self.gate.scope_for(&context, &name.tenant).await?;
            self.tenants.verify_domain(&scope, &origin, &name).await
        }
        .await;
        reply(result, |domain| pb::Domain::from(&domain))
    }

    async fn create_api_key(
        &self,
        request: Request<pb::CreateApiKeyRequest>,
    ) -> Reply<pb::CreateApiKeyResponse> {
        let context = context(&request)?;
        let origin = context.origin("");
        let request = request.into_inner();
        let result = async {
            let scope = self.scope(&context, &request.parent, "parent").await?;
            let new = api_keys::new_api_key(&request)?;
            self.tenants.create_api_key(&scope, &origin, new).await
        }
        .await;
        reply(result, |issued| pb::CreateApiKeyResponse {
            api_key: Some(api_keys::api_key(&issued.key, chrono::Utc::now())),
            secret: issued.secret,
        })
    }

    async fn list_api_keys(
        &self,
        request: Request<pb::ListApiKeysRequest>,
    ) -> Reply<pb::ListApiKeysResponse> {
        let context = context(&request)?;
        let request = request.into_inner();
        let result = async {
            let scope = self.scope(&context, &request.parent, "parent").await?;
            let size = page_size(request.page_size, "page_size")?;
            self.tenants
                .list_api_keys(&scope, request.show_revoked, size, &request.page_token)
                .await
        }
        .await;
        reply(result, |(keys, next_page_token)| {
            let now = chrono::Utc::now();
            pb::ListApiKeysResponse {
                api_keys: keys.iter().map(|key| api_keys::api_key(key, now)).collect(),
                next_page_token,
            }
        })
    }

    async fn revoke_api_key(&self, request: Request<pb::RevokeApiKeyRequest>) -> Reply<pb::ApiKey> {
        let context = context(&request)?;
        let origin = context.origin("");
        let request = request.into_inner();
        let result = async {
            let name = ApiKeyName::parse(&request.name, "name")?;
            let scope = self.gate.scope_for(&context, &name.tenant).await?;
            self.tenants.revoke_api_key(&scope, &origin, &name).await
        }
        .await;
        reply(result, |key| api_keys::api_key(&key, chrono::Utc::now()))
    }

    async fn rotate_api_key(
        &self,
        request: Request<pb::RotateApiKeyRequest>,
    ) -> Reply<pb::RotateApiKeyResponse> {
        let context = context(&request)?;
        let origin = context.origin("");
        let request = request.into_inner();
        let result = async {
            let name = ApiKeyName::parse(&request.name, "name")?;
            let scope = self.gate.scope_for(&context, &name.tenant).await?;
            let overlap = api_keys::overlap(request.overlap.as_ref())?;
            self.tenants
                .rotate_api_key(&scope, &origin, &name, overlap)
                .await
        }
        .await;
        reply(result, |rotation| {
            api_keys::rotation(&rotation, chrono::Utc::now())
        })
    }

    async fn list_audit_events(
        &self,
        request: Request<pb::ListAuditEventsRequest>,
    ) -> Reply<pb::ListAuditEventsResponse> {
        let context = context(&request)?;
        let request = request.into_inner();
        let result = async {
            let parent = AuditParent::parse(&request.parent, "parent")?;
            let size = page_size(request.page_size, "page_size")?;
            let (platform, scope) = match &parent {
                AuditParent::AllTenants => (Some(context.platform()?), None),
                AuditParent::Tenant(by) => (None, Some(self.gate.scope_for(&context, by).await?)),
            };
            let of = match (&platform, &scope) {
                (Some(platform), _) => AuditScope::AllTenants(platform),
                (_, Some(scope)) => AuditScope::Tenant(scope),
                (None, None) => return Err(Error::internal("an audit parent without a scope")),
            };
            self.tenants
                .list_audit_events(of, size, &request.page_token, &request.filter)
                .await
        }
        .await;
        reply(result, |(events, next_page_token)| {
            pb::ListAuditEventsResponse {
                audit_events: events.into_iter().map(pb::AuditEvent::from).collect(),
                next_page_token,
            }
        })
    }

    async fn resolve_tenant(
        &self,
        request: Request<pb::ResolveTenantRequest>,
    ) -> Reply<pb::ResolveTenantResponse> {
        let request = request.into_inner();
        let result = async {
            let target = match request.target {
                Some(Target::Host(host)) if !host.is_empty() => {
                    ResolveTarget::Host(host.to_ascii_lowercase())
                }
                Some(Target::TenantId(id)) => {
                    ResolveTarget::TenantId(TenantId::parse(&id, "tenant_id")?)
                }
                Some(Target::Slug(slug)) if !slug.is_empty() => ResolveTarget::Slug(slug),
                _ => {
                    return Err(Error::invalid_field(
                        "target",
                        "set one of host, tenant_id or slug",
                    ));
                }
            };
            // The layer admitted only callers allowed to resolve any tenant.
            self.gate.resolve(&target).await
        }
        .await;
        reply(result, |(tenant, by)| {
            convert::resolve_response(&tenant, by)
        })
    }

    async fn export_tenant(
        &self,
        request: Request<pb::ExportTenantRequest>,
    ) -> Reply<BoxStream<pb::ExportTenantResponse>> {
        let context = context(&request)?;
        let request = request.into_inner();
        let scope = self.scope(&context, &request.name, "name").await?;
        let archive = self.tenants.export(&scope).await?;
        let responses = tenant_archive::chunks(&archive)
            .into_iter()
            .map(|chunk| Ok(pb::ExportTenantResponse { chunk: Some(chunk) }));
        Ok(Response::new(Box::pin(tokio_stream::iter(responses))))
    }

    async fn import_tenant(
        &self,
        request: Request<Streaming<pb::ImportTenantRequest>>,
    ) -> Reply<pb::Tenant> {
        let context = context(&request)?;
        let origin = context.origin("");
        let result = async {
            let platform = context.platform()?;
            let (options, archive) = tenant_archive::receive_import(request.into_inner()).await?;
            self.tenants
                .import(&platform, &origin, archive, options)
                .await
        }
        .await;
        reply(result, |tenant| pb::Tenant::from(&tenant))
    }
}
