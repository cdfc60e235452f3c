//! The trivial calls a bench compares its measured call with, and the
//! tenant every bench starts from.

use tenantd::pb;
use tenantd::pb::tenant_service_client::TenantServiceClient;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use super::{ADMIN_TOKEN, SERVICE_TOKEN, authorized};

/// `grpc.health.v1.Health/Check`, which no credential guards.
pub async fn health_check(channel: &Channel) {
    HealthClient::new(channel.clone())
        .check(HealthCheckRequest::default())
        .await
        .expect("health check");
}

/// `ResolveTenant` of the tenant named `name` (`tenants/{id}`) by its id,
/// with the service token.
pub async fn resolve_by_id(channel: &Channel, name: &str) {
    let request = pb::ResolveTenantRequest {
        target: Some(pb::resolve_tenant_request::Target::TenantId(
            name.trim_start_matches("tenants/").to_owned(),
        )),
    };
    TenantServiceClient::new(channel.clone())
        .resolve_tenant(authorized(request, SERVICE_TOKEN))
        .await
        .expect("resolve the tenant");
}

/// Creates `tenant` with the admin token; panics if that fails.
pub async fn create_tenant(channel: &Channel, tenant: pb::Tenant) -> pb::Tenant {
    let request = pb::CreateTenantRequest {
        tenant: Some(tenant),
        ..Default::default()
    };
    TenantServiceClient::new(channel.clone())
        .create_tenant(authorized(request, ADMIN_TOKEN))
        .await
        .expect("create tenant")
        .into_inner()
}
