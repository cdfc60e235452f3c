//! ConfigService: decode, resolve the layer a name points at (a tenant's
//! through the gate, the defaults and plan layers for operators only),
//! call the configuration directory, encode.
//!
//! The feature-flag methods delegate to [`crate::flags::grpc::service`]; WatchConfig
//! streams from the replica's [`ConfigWatch`].

use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};

use crate::access::Gate;
use crate::access::TenantContext;
use crate::access::open;
use crate::common::ids::TenantRef;
use crate::common::paging::page_size;
use crate::config::configs::{ConfigTarget, ConfigUpdate, Configs};
use crate::config::grpc::convert;
use crate::config::grpc::convert::{config, config_version, layer_view};
use crate::config::grpc::watch;
use crate::config::layered::{ConfigName, LayeredConfig};
use crate::config::watch::ConfigWatch;
use crate::error::Error;
use crate::flags::FlagApi;
use crate::pb;
use crate::pb::config_service_server::ConfigService;
use crate::rpc::Reply;

/// The ConfigService implementation.
pub struct ConfigApi {
    /// The configuration directory.
    configs: Configs,
    /// The replica's WatchConfig streams.
    watch: ConfigWatch,
    /// Scopes callers to the tenants they may reach.
    gate: Gate,
    /// The feature-flag methods.
    flags: FlagApi,
}

impl ConfigApi {
    /// Serves `configs`, `flags` and `watch`, reached through `gate`.
    pub fn new(
        configs: Configs,
        flags: crate::flags::Flags,
        watch: ConfigWatch,
        gate: Gate,
    ) -> Self {
        let flags = FlagApi::new(flags, gate.clone());
        Self {
            configs,
            watch,
            gate,
            flags,
        }
    }

    /// The layer `name` names, for the caller in `context`.
    async fn target(
        &self,
        context: &TenantContext,
        name: &ConfigName,
    ) -> Result<ConfigTarget, Error> {
        match name {
            ConfigName::Defaults => Ok(ConfigTarget::defaults(&context.platform()?)),
            ConfigName::Plan(plan) => Ok(ConfigTarget::plan(&context.platform()?, plan.clone())),
            ConfigName::Tenant(by) => {
                let scope = self.gate.scope_for(context, by).await?;
                self.configs.tenant_target(&scope).await
            }
        }
    }

    /// The layer `name` names, with the layers it merges over, as they are
    /// now.
    async fn read(
        &self,
        context: &TenantContext,
        name: &ConfigName,
    ) -> Result<LayeredConfig, Error> {
        let target = self.target(context, name).await?;
        self.configs.get(&target).await
    }

    /// UpdateConfig, RollbackConfig and UpdateBranding: the update
    /// `convert` reads from the body, applied to the layer it names.
    async fn apply<R>(
        &self,
        request: Request<R>,
        convert: impl FnOnce(&R) -> Result<(ConfigName, ConfigUpdate), Error>,
    ) -> Result<LayeredConfig, Status> {
        let (context, body) = open(request)?;
        let (name, update) = convert(&body)?;
        let target = self.target(&context, &name).await?;
        let origin = context.origin("");
        Ok(self.configs.update(&target, &origin, update).await?)
    }
}

#[tonic::async_trait]
impl ConfigService for ConfigApi {
    async fn get_config(&self, request: Request<pb::GetConfigRequest>) -> Reply<pb::Config> {
        let (context, request) = open(request)?;
        let name = ConfigName::parse(&request.name, "name")?;
        let layer_only = layer_view(request.view)?;
        let layered = self.read(&context, &name).await?;
        Ok(Response::new(config(&layered, layer_only)))
    }

    async fn update_config(&self, request: Request<pb::UpdateConfigRequest>) -> Reply<pb::Config> {
        let changed = self.apply(request, convert::config_update).await?;
        Ok(Response::new(config(&changed, false)))
    }

    async fn list_config_versions(
        &self,
        request: Request<pb::ListConfigVersionsRequest>,
    ) -> Reply<pb::ListConfigVersionsResponse> {
        let (context, request) = open(request)?;
        let name = ConfigName::parse(&request.parent, "parent")?;
        let size = page_size(request.page_size, "page_size")?;
        let target = self.target(&context, &name).await?;
        let (versions, next_page_token) = self
            .configs
            .versions(&target, size, &request.page_token)
            .await?;
        Ok(Response::new(pb::ListConfigVersionsResponse {
            config_versions: versions.iter().map(config_version).collect(),
            next_page_token,
        }))
    }

    async fn get_config_version(
        &self,
        request: Request<pb::GetConfigVersionRequest>,
    ) -> Reply<pb::ConfigVersion> {
        let (context, request) = open(request)?;
        let (name, number) = ConfigName::parse_version(&request.name, "name")?;
        let target = self.target(&context, &name).await?;
        let version = self.configs.version(&target, number).await?;
        Ok(Response::new(config_version(&version)))
    }

    async fn rollback_config(
        &self,
        request: Request<pb::RollbackConfigRequest>,
    ) -> Reply<pb::Config> {
        let changed = self.apply(request, convert::rollback).await?;
        Ok(Response::new(config(&changed, false)))
    }

    async fn get_branding(&self, request: Request<pb::GetBrandingRequest>) -> Reply<pb::Branding> {
        let (context, request) = open(request)?;
        let by = convert::branding_tenant(&request.name, "name")?;
        let layered = self.read(&context, &ConfigName::Tenant(by)).await?;
        Ok(Response::new(convert::branding(&layered)))
    }

    async fn update_branding(
        &self,
        request: Request<pb::UpdateBrandingRequest>,
    ) -> Reply<pb::Branding> {
        let changed = self.apply(request, convert::branding_update).await?;
        Ok(Response::new(convert::branding(&changed)))
    }

    crate::rpc::forward! {
        self.flags:
        create_flag(pb::CreateFlagRequest) -> pb::Flag;
        get_flag(pb::GetFlagRequest) -> pb::Flag;
        list_flags(pb::ListFlagsRequest) -> pb::ListFlagsResponse;
        update_flag(pb::UpdateFlagRequest) -> pb::Flag;
        delete_flag(pb::DeleteFlagRequest) -> ();
        set_flag_override(pb::SetFlagOverrideRequest) -> pb::FlagOverride;
        list_flag_overrides(pb::ListFlagOverridesRequest) -> pb::ListFlagOverridesResponse;
        delete_flag_override(pb::DeleteFlagOverrideRequest) -> ();
        evaluate_flag(pb::EvaluateFlagRequest) -> pb::EvaluateFlagResponse;
        evaluate_flags(pb::EvaluateFlagsRequest) -> pb::EvaluateFlagsResponse;
    }

    async fn watch_config(
        &self,
        request: Request<pb::WatchConfigRequest>,
    ) -> Reply<BoxStream<pb::WatchConfigResponse>> {
        let (context, request) = open(request)?;
        let by = TenantRef::parse_name(&request.parent, "parent")?;
        let wanted = watch::watch_request(&request)?;
        let scope = self.gate.scope_for(&context, &by).await?;
        let events = self.watch.watch(scope, wanted);
        Ok(Response::new(watch::answers(
            self.gate.while_admitted(context, events),
        )))
    }
}
