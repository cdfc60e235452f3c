//! What the server answers: every gRPC service, health and reflection, as
//! one set of routes for the stack to serve.

use tonic::service::Routes;
use tonic_health::pb::health_server::{Health, HealthServer};

use crate::config::grpc::service::ConfigApi;
use crate::config::watch::ConfigWatch;
use crate::envoy::service::ratelimit::v3::rate_limit_service_server::RateLimitServiceServer;
use crate::error::{Error, Result};
use crate::pb;
use crate::pb::config_service_server::ConfigServiceServer;
use crate::pb::quota_service_server::QuotaServiceServer;
use crate::pb::tenant_service_server::TenantServiceServer;
use crate::pb::usage_service_server::UsageServiceServer;
use crate::quota::grpc::ratelimit::RateLimitApi;
use crate::quota::grpc::service::QuotaApi;
use crate::quota::ratelimit::RateLimits;
use crate::server::services::Services;
use crate::tenancy::grpc::service::TenantApi;
use crate::usage::grpc::service::UsageApi;

/// Every service the server answers, on `services`; `config_watch` streams
/// configuration changes to WatchConfig callers.
pub(super) fn routes(
    services: Services,
    config_watch: ConfigWatch,
    health: HealthServer<impl Health>,
) -> Result<Routes> {
    let gate = services.gate;
    let quotas = services.quotas;
    let routes = Routes::new(health)
        .add_service(reflection().build_v1().map_err(Error::internal)?)
        .add_service(reflection().build_v1alpha().map_err(Error::internal)?)
        .add_service(TenantServiceServer::new(TenantApi::new(
            services.tenants,
            services.api_keys,
            gate.clone(),
        )))
        .add_service(ConfigServiceServer::new(ConfigApi::new(
            services.configs,
            services.flags,
            config_watch,
            gate.clone(),
        )))
        .add_service(QuotaServiceServer::new(QuotaApi::new(
            services.plans,
            quotas.clone(),
            gate.clone(),
        )))
        .add_service(RateLimitServiceServer::new(RateLimitApi::new(
            RateLimits::new(quotas.clone(), gate.clone()),
        )))
        .add_service(UsageServiceServer::new(UsageApi::new(
            services.metrics,
            (services.usage, services.exports),
            quotas,
            gate,
        )));
    Ok(routes)
}

/// Reflection over everything served, both reflection versions included,
/// so v1 and v1alpha clients see the same list of services.
fn reflection() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .include_reflection_service(false)
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET)
}
