//! TenantService: decode, call the tenant directory, encode. No logic here
//! beyond picking the right conversion.

use tonic::{Request, Response, Status};

use super::api_keys;
use super::convert::{self, etag};
use super::origin::origin;
use crate::domain::ids::{
    ApiKeyName, AuditParent, DomainName, TenantId, TenantRef, parse_canonical_uuid,
};
use crate::domain::paging::page_size;
use crate::domain::resolve::ResolveTarget;
use crate::domain::tenants::{CreateTenant, ListTenants, Tenants};
use crate::domain::validate;
use crate::error::Error;
use crate::pb;
use crate::pb::resolve_tenant_request::Target;
use crate::pb::tenant_service_server::TenantService;

/// The TenantService implementation.
pub struct TenantApi {
    /// The tenant directory.
    tenants: Tenants,
}

impl TenantApi {
    /// Serves `tenants`.
    pub fn new(tenants: Tenants) -> Self {
        Self { tenants }
    }
}

type Reply<T> = Result<Response<T>, Status>;

fn reply<T, U>(result: Result<T, Error>, encode: impl FnOnce(T) -> U) -> Reply<U> {
    result
        .map(|value| Response::new(encode(value)))
        .map_err(Status::from)
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
        let origin = origin(request.metadata(), &request.get_ref().request_id);
        let request = request.into_inner();
        let result = async {
            let tenant = convert::new_tenant(&request)?;
            let request_id = (!request.request_id.is_empty())
                .then(|| parse_canonical_uuid(&request.request_id, "request_id"))
                .transpose()?;
            self.tenants
                .create(&origin, CreateTenant { tenant, request_id })
                .await
        }
        .await;
        reply(result, |tenant| pb::Tenant::from(&tenant))
    }

    async fn get_tenant(&self, request: Request<pb::GetTenantRequest>) -> Reply<pb::Tenant> {
        let request = request.into_inner();
        let result = async {
            self.tenants
                .get(&TenantRef::parse_name(&request.name, "name")?)
                .await
        }
        .await;
        reply(result, |tenant| pb::Tenant::from(&tenant))
    }

    async fn list_tenants(
        &self,
        request: Request<pb::ListTenantsRequest>,
    ) -> Reply<pb::ListTenantsResponse> {
        let request = request.into_inner();
        let result = async {
            let list = ListTenants {
                page_size: page_size(request.page_size, "page_size")?,
                page_token: request.page_token,
                filter: request.filter,
                show_deleted: request.show_deleted,
            };
            self.tenants.list(&list).await
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
        let origin = origin(request.metadata(), "");
        let request = request.into_inner();
        let result = async {
            let Some(tenant) = &request.tenant else {
                return Err(Error::invalid_field("tenant", "is required"));
            };
            let by = TenantRef::parse_name(&tenant.name, "tenant.name")?;
            let patch = convert::tenant_patch(tenant, request.update_mask.as_ref())?;
            self.tenants
                .update(&origin, &by, etag(&tenant.etag), &patch)
                .await
        }
        .await;
        reply(result, |tenant| pb::Tenant::from(&tenant))
    }

    async fn delete_tenant(&self, request: Request<pb::DeleteTenantRequest>) -> Reply<pb::Tenant> {
        let origin = origin(request.metadata(), "");
        let request = request.into_inner();
        let result = async {
            let by = TenantRef::parse_name(&request.name, "name")?;
            self.tenants.delete(&origin, &by, etag(&request.etag)).await
        }
        .await;
        reply(result, |tenant| pb::Tenant::from(&tenant))
    }

    async fn undelete_tenant(
        &self,
        request: Request<pb::UndeleteTenantRequest>,
    ) -> Reply<pb::Tenant> {
        let origin = origin(request.metadata(), "");
        let request = request.into_inner();
        let result = async {
            let by = TenantRef::parse_name(&request.name, "name")?;
            self.tenants
                .undelete(&origin, &by, etag(&request.etag))
                .await
        }
        .await;
        reply(result, |tenant| pb::Tenant::from(&tenant))
    }

    async fn suspend_tenant(
        &self,
        request: Request<pb::SuspendTenantRequest>,
    ) -> Reply<pb::Tenant> {
        let origin = origin(request.metadata(), "");
        let request = request.into_inner();
        let result = async {
            let by = TenantRef::parse_name(&request.name, "name")?;
            check_reason(&request.reason, true)?;
            self.tenants
                .suspend(&origin, &by, etag(&request.etag), request.reason.trim())
                .await
        }
        .await;
        reply(result, |tenant| pb::Tenant::from(&tenant))
    }

    async fn activate_tenant(
        &self,
        request: Request<pb::ActivateTenantRequest>,
    ) -> Reply<pb::Tenant> {
        let origin = origin(request.metadata(), "");
        let request = request.into_inner();
        let result = async {
            let by = TenantRef::parse_name(&request.name, "name")?;
            check_reason(&request.reason, false)?;
            self.tenants
                .activate(&origin, &by, etag(&request.etag))
                .await
        }
        .await;
        reply(result, |tenant| pb::Tenant::from(&tenant))
    }

    async fn create_domain(&self, request: Request<pb::CreateDomainRequest>) -> Reply<pb::Domain> {
        let origin = origin(request.metadata(), "");
        let request = request.into_inner();
        let result = async {
            let tenant = TenantRef::parse_name(&request.parent, "parent")?;
            let Some(domain) = &request.domain else {
                return Err(Error::invalid_field("domain", "is required"));
            };
            let hostname = validate::hostname(&domain.hostname, "domain.hostname")
                .map_err(|violation| Error::InvalidArgument(vec![violation]))?;
            self.tenants.create_domain(&origin, &tenant, hostname).await
        }
        .await;
        reply(result, |domain| pb::Domain::from(&domain))
    }

    async fn list_domains(
        &self,
        request: Request<pb::ListDomainsRequest>,
    ) -> Reply<pb::ListDomainsResponse> {
        let request = request.into_inner();
        let result = async {
            let tenant = TenantRef::parse_name(&request.parent, "parent")?;
            let size = page_size(request.page_size, "page_size")?;
            self.tenants
                .list_domains(&tenant, size, &request.page_token)
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
        let origin = origin(request.metadata(), "");
        let request = request.into_inner();
        let result = async {
            let name = DomainName::parse(&request.name, "name")?;
            self.tenants.delete_domain(&origin, &name).await
        }
        .await;
        reply(result, |_| ())
    }

    async fn verify_domain(&self, request: Request<pb::VerifyDomainRequest>) -> Reply<pb::Domain> {
        let origin = origin(request.metadata(), "");
        let request = request.into_inner();
        let result = async {
            let name = DomainName::parse(&request.name, "name")?;
            self.tenants.verify_domain(&origin, &name).await
        }
        .await;
        reply(result, |domain| pb::Domain::from(&domain))
    }

    async fn create_api_key(
        &self,
        request: Request<pb::CreateApiKeyRequest>,
    ) -> Reply<pb::CreateApiKeyResponse> {
        let origin = origin(request.metadata(), "");
        let request = request.into_inner();
        let result = async {
            let tenant = TenantRef::parse_name(&request.parent, "parent")?;
            let new = api_keys::new_api_key(&request)?;
            self.tenants.create_api_key(&origin, &tenant, new).await
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
        let request = request.into_inner();
        let result = async {
            let tenant = TenantRef::parse_name(&request.parent, "parent")?;
            let size = page_size(request.page_size, "page_size")?;
            self.tenants
                .list_api_keys(&tenant, request.show_revoked, size, &request.page_token)
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
        let origin = origin(request.metadata(), "");
        let request = request.into_inner();
        let result = async {
            let name = ApiKeyName::parse(&request.name, "name")?;
            self.tenants.revoke_api_key(&origin, &name).await
        }
        .await;
        reply(result, |key| api_keys::api_key(&key, chrono::Utc::now()))
    }

    async fn rotate_api_key(
        &self,
        request: Request<pb::RotateApiKeyRequest>,
    ) -> Reply<pb::RotateApiKeyResponse> {
        let origin = origin(request.metadata(), "");
        let request = request.into_inner();
        let result = async {
            let name = ApiKeyName::parse(&request.name, "name")?;
            let overlap = api_keys::overlap(request.overlap.as_ref())?;
            self.tenants.rotate_api_key(&origin, &name, overlap).await
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
        let request = request.into_inner();
        let result = async {
            let parent = AuditParent::parse(&request.parent, "parent")?;
            let size = page_size(request.page_size, "page_size")?;
            self.tenants
                .list_audit_events(&parent, size, &request.page_token, &request.filter)
                .await
        }
        .await;
        reply(result, |(events, next_page_token)| {
            pb::ListAuditEventsResponse {
                audit_events: events.iter().map(pb::AuditEvent::from).collect(),
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
            self.tenants.resolve(&target).await
        }
        .await;
        reply(result, |(tenant, by)| {
            convert::resolve_response(&tenant, by)
        })
    }
}
