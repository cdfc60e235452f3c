//! ConfigService: decode, resolve the layer a name points at (a tenant's
//! through the gate, the defaults and plan layers for operators only),
//! call the configuration directory, encode.
//!
//! The feature-flag methods delegate to [`crate::flags::grpc::service`]; WatchConfig
//! streams from the replica's [`ConfigWatch`].

use tonic::Request;
use tonic::codegen::BoxStream;

use crate::access::Gate;
use crate::access::TenantContext;
use crate::access::context;
use crate::common::ids::TenantRef;
use crate::common::paging::page_size;
use crate::config::configs::{ConfigTarget, ConfigUpdate, Configs};
use crate::config::grpc::convert as config_convert;
use crate::config::grpc::convert::{config, config_version, layer_change, layer_view};
use crate::config::grpc::watch as config_watch;
use crate::config::layered::{ConfigName, LayerChange};
use crate::config::watch::ConfigWatch;
use crate::error::Error;
use crate::flags::FlagApi;
use crate::pb;
use crate::pb::config_service_server::ConfigService;
use crate::rpc::convert::etag;
use crate::rpc::{Reply, answer};

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

    /// Resolves `name` from `field` and applies `update` to its layer.
    async fn change(
        &self,
        context: &TenantContext,
        name: &str,
        field: &str,
        update: Result<ConfigUpdate, Error>,
    ) -> Result<pb::Config, Error> {
        let name = ConfigName::parse(name, field)?;
        let update = update?;
        let target = self.target(context, &name).await?;
        let origin = context.origin("");
        let changed = self.configs.update(&target, &origin, update).await?;
        Ok(config(&changed, false))
    }
}

/// Decodes the request's tenant context and body, then runs `call`.
async fn with_context<T, R, F>(
    request: Request<T>,
    call: impl FnOnce(TenantContext, T) -> F,
) -> Reply<R>
where
    F: std::future::Future<Output = Result<R, Error>>,
{
    let context = context(&request)?;
    answer(call(context, request.into_inner()).await)
}

#[tonic::async_trait]
impl ConfigService for ConfigApi {
    async fn get_config(&self, request: Request<pb::GetConfigRequest>) -> Reply<pb::Config> {
        let context = context(&request)?;
        let request = request.into_inner();
        let result = async {
            let name = ConfigName::parse(&request.name, "name")?;
            let layer_only = layer_view(request.view)?;
            let target = self.target(&context, &name).await?;
            let layered = self.configs.get(&target).await?;
            Ok(config(&layered, layer_only))
        }
        .await;
        answer(result)
    }

    async fn update_config(&self, request: Request<pb::UpdateConfigRequest>) -> Reply<pb::Config> {
        let context = context(&request)?;
        let request = request.into_inner();
        let Some(given) = &request.config else {
            return answer(Err(Error::invalid_field("config", "is required")));
        };
        let update =
            layer_change(given.values.as_ref(), request.update_mask.as_ref()).map(|change| {
                ConfigUpdate {
                    change,
                    etag: etag(&given.etag).map(str::to_owned),
                    comment: request.comment.clone(),
                    validate_only: request.validate_only,
                    action: "UpdateConfig",
                }
            });
        answer(
            self.change(&context, &given.name, "config.name", update)
                .await,
        )
    }

    async fn list_config_versions(
        &self,
        request: Request<pb::ListConfigVersionsRequest>,
    ) -> Reply<pb::ListConfigVersionsResponse> {
        let context = context(&request)?;
        let request = request.into_inner();
        let result = async {
            let name = ConfigName::parse(&request.parent, "parent")?;
            let size = page_size(request.page_size, "page_size")?;
            let target = self.target(&context, &name).await?;
            let (versions, next_page_token) = self
                .configs
                .versions(&target, size, &request.page_token)
                .await?;
            Ok(pb::ListConfigVersionsResponse {
                config_versions: versions.iter().map(config_version).collect(),
                next_page_token,
            })
        }
        .await;
        answer(result)
    }

    async fn get_config_version(
        &self,
        request: Request<pb::GetConfigVersionRequest>,
    ) -> Reply<pb::ConfigVersion> {
        let context = context(&request)?;
        let request = request.into_inner();
        let result = async {
            let (name, number) = ConfigName::parse_version(&request.name, "name")?;
            let target = self.target(&context, &name).await?;
            let version = self.configs.version(&target, number).await?;
            Ok(config_version(&version))
        }
        .await;
        answer(result)
    }

    async fn rollback_config(
        &self,
        request: Request<pb::RollbackConfigRequest>,
    ) -> Reply<pb::Config> {
        let context = context(&request)?;
        let request = request.into_inner();
        let update = if request.version < 1 {
            Err(Error::invalid_field(
                "version",
                "must be a version number from 1",
            ))
        } else {
            Ok(ConfigUpdate {
                change: LayerChange::Restore(request.version),
                etag: etag(&request.etag).map(str::to_owned),
                comment: request.comment.clone(),
                validate_only: false,
                action: "RollbackConfig",
            })
        };
        answer(self.change(&context, &request.name, "name", update).await)
    }

    async fn get_branding(&self, request: Request<pb::GetBrandingRequest>) -> Reply<pb::Branding> {
        let context = context(&request)?;
        let request = request.into_inner();
        let result = async {
            let by = config_convert::branding_tenant(&request.name, "name")?;
            let target = self.target(&context, &ConfigName::Tenant(by)).await?;
            let layered = self.configs.get(&target).await?;
            Ok(config_convert::branding(&layered))
        }
        .await;
        answer(result)
    }

    async fn update_branding(
        &self,
        request: Request<pb::UpdateBrandingRequest>,
    ) -> Reply<pb::Branding> {
        let context = context(&request)?;
        let request = request.into_inner();
        let result = async {
            let Some(given) = &request.branding else {
                return Err(Error::invalid_field("branding", "is required"));
            };
            let by = config_convert::branding_tenant(&given.name, "branding.name")?;
            let change = config_convert::branding_change(given, request.update_mask.as_ref())?;
            let target = self.target(&context, &ConfigName::Tenant(by)).await?;
            let update = ConfigUpdate {
                change,
                etag: etag(&given.etag).map(str::to_owned),
                comment: request.comment.clone(),
                validate_only: false,
                action: "UpdateBranding",
            };
            let changed = self
                .configs
                .update(&target, &context.origin(""), update)
                .await?;
            Ok(config_convert::branding(&changed))
        }
        .await;
        answer(result)
    }

    async fn create_flag(&self, request: Request<pb::CreateFlagRequest>) -> Reply<pb::Flag> {
        with_context(request, |context, body| async move {
            self.flags.create_flag(&context, &body).await
        })
        .await
    }

    async fn get_flag(&self, request: Request<pb::GetFlagRequest>) -> Reply<pb::Flag> {
        answer(self.flags.get_flag(request.get_ref()).await)
    }

    async fn list_flags(
        &self,
        request: Request<pb::ListFlagsRequest>,
    ) -> Reply<pb::ListFlagsResponse> {
        answer(self.flags.list_flags(request.get_ref()).await)
    }

    async fn update_flag(&self, request: Request<pb::UpdateFlagRequest>) -> Reply<pb::Flag> {
        with_context(request, |context, body| async move {
            self.flags.update_flag(&context, &body).await
        })
        .await
    }

    async fn delete_flag(&self, request: Request<pb::DeleteFlagRequest>) -> Reply<()> {
        with_context(request, |context, body| async move {
            self.flags.delete_flag(&context, &body).await
        })
        .await
    }

    async fn set_flag_override(
        &self,
        request: Request<pb::SetFlagOverrideRequest>,
    ) -> Reply<pb::FlagOverride> {
        with_context(request, |context, body| async move {
            self.flags.set_flag_override(&context, &body).await
        })
        .await
    }

    async fn list_flag_overrides(
        &self,
        request: Request<pb::ListFlagOverridesRequest>,
    ) -> Reply<pb::ListFlagOverridesResponse> {
        with_context(request, |context, body| async move {
            self.flags.list_flag_overrides(&context, &body).await
        })
        .await
    }

    async fn delete_flag_override(
        &self,
        request: Request<pb::DeleteFlagOverrideRequest>,
    ) -> Reply<()> {
        with_context(request, |context, body| async move {
            self.flags.delete_flag_override(&context, &body).await
        })
        .await
    }

    async fn evaluate_flag(
        &self,
        request: Request<pb::EvaluateFlagRequest>,
    ) -> Reply<pb::EvaluateFlagResponse> {
        with_context(request, |context, body| async move {
            self.flags.evaluate_flag(&context, &body).await
        })
        .await
    }

    async fn evaluate_flags(
        &self,
        request: Request<pb::EvaluateFlagsRequest>,
    ) -> Reply<pb::EvaluateFlagsResponse> {
        with_context(request, |context, body| async move {
            self.flags.evaluate_flags(&context, &body).await
        })
        .await
    }

    async fn watch_config(
        &self,
        request: Request<pb::WatchConfigRequest>,
    ) -> Reply<BoxStream<pb::WatchConfigResponse>> {
        let context = context(&request)?;
        let request = request.into_inner();
        let result = async {
            let by = TenantRef::parse_name(&request.parent, "parent")?;
            let watch = config_watch::watch_request(&request)?;
            let scope = self.gate.scope_for(&context, &by).await?;
            Ok(config_watch::answers(self.watch.watch(scope, watch)))
        }
        .await;
        answer(result)
    }
}
