//! The feature-flag methods of ConfigService: decode (validation in the
//! `TryFrom`s of [`crate::flags::grpc::convert`]), find the scope the request may
//! act in (flags and plan overrides are the platform's, tenant overrides
//! and evaluations the tenant's, through the gate), call the flag
//! directory, encode. The `ConfigService` trait methods delegate here.

use crate::access::Gate;
use crate::access::{TenantContext, TenantScope};
use crate::common::filter;
use crate::common::filter::Op;
use crate::common::ids::TenantRef;
use crate::common::paging::page_size;
use crate::error::{Error, Result};
use crate::flags::directory::Flags;
use crate::flags::flag::{
    OverrideOwner, OverrideParent, OwnerRef, parse_flag_name, parse_override_name,
    parse_override_parent,
};
use crate::flags::grpc::convert as flag_convert;
use crate::flags::grpc::convert::{CreateFlag, Evaluate, SetOverride, UpdateFlag};
use crate::flags::overrides::OwnerScope;
use crate::flags::store::{FlagFilter, OverrideSet};
use crate::pb;
use crate::rpc::convert::etag;
use crate::store::scope::Scope;

/// The flag half of ConfigService.
#[derive(Clone)]
pub struct FlagApi {
    /// The flag directory.
    flags: Flags,
    /// Scopes callers to the tenants they may reach.
    gate: Gate,
}

/// Where an override lives, with the scope to reach it.
enum Owner {
    Plan(crate::access::PlatformScope, String),
    Tenant(TenantScope),
}

impl Owner {
    fn scope(&self) -> OwnerScope<'_> {
        match self {
            Owner::Plan(platform, plan) => OwnerScope::Plan(platform, plan),
            Owner::Tenant(tenant) => OwnerScope::Tenant(tenant),
        }
    }
}

const FLAG_FILTER_FIELDS: &str = "enabled and value_type (=)";

/// The ListFlags filter in `text`.
pub(crate) fn flag_filter(text: &str) -> Result<FlagFilter> {
    let mut found = FlagFilter::default();
    for comparison in filter::parse(text, "filter")? {
        match (comparison.field.as_str(), comparison.op) {
            ("enabled", Op::Eq) => {
                found.enabled = Some(comparison.value.parse().map_err(|_| {
                    Error::invalid_field("filter", "enabled is compared with true or false")
                })?);
            }
            ("value_type", Op::Eq) => {
                let value = comparison.value.trim_start_matches("FLAG_TYPE_");
                found.value_type =
                    Some(crate::flags::flag::FlagType::parse(value).ok_or_else(|| {
                        Error::invalid_field(
                            "filter",
                            "value_type is one of BOOLEAN, STRING, NUMBER, OBJECT",
                        )
                    })?);
            }
            _ => {
                return Err(filter::unsupported(
                    &comparison,
                    "filter",
                    FLAG_FILTER_FIELDS,
                ));
            }
        }
    }
    Ok(found)
}

impl FlagApi {
    /// Serves `flags`, reached through `gate`.
    pub fn new(flags: Flags, gate: Gate) -> Self {
        Self { flags, gate }
    }

    async fn owner(&self, context: &TenantContext, owner: &OwnerRef) -> Result<Owner> {
        Ok(match owner {
            OwnerRef::Plan(plan) => Owner::Plan(context.platform()?, plan.clone()),
            OwnerRef::Tenant(by) => Owner::Tenant(self.gate.scope_for(context, by).await?),
        })
    }

    async fn tenant(&self, context: &TenantContext, by: &TenantRef) -> Result<TenantScope> {
        self.gate.scope_for(context, by).await
    }

    /// CreateFlag.
    pub async fn create_flag(
        &self,
        context: &TenantContext,
        request: &pb::CreateFlagRequest,
    ) -> Result<pb::Flag> {
        let create = CreateFlag::try_from(request)?;
        let platform = context.platform()?;
        let created = self
            .flags
            .create(
                &platform,
                &context.origin(""),
                create.new,
                create.request_id,
            )
            .await?;
        Ok(flag_convert::flag(&created))
    }

    /// GetFlag.
    pub async fn get_flag(&self, request: &pb::GetFlagRequest) -> Result<pb::Flag> {
        let key = parse_flag_name(&request.name, "name")?;
        Ok(flag_convert::flag(&self.flags.get(&key).await?))
    }

    /// ListFlags.
    pub async fn list_flags(
        &self,
        request: &pb::ListFlagsRequest,
    ) -> Result<pb::ListFlagsResponse> {
        let size = page_size(request.page_size, "page_size")?;
        let filter = flag_filter(&request.filter)?;
        let (flags, next_page_token) = self.flags.list(filter, size, &request.page_token).await?;
        Ok(pb::ListFlagsResponse {
            flags: flags.iter().map(flag_convert::flag).collect(),
            next_page_token,
        })
    }

    /// UpdateFlag.
    pub async fn update_flag(
        &self,
        context: &TenantContext,
        request: &pb::UpdateFlagRequest,
    ) -> Result<pb::Flag> {
        let update = UpdateFlag::try_from(request)?;
        let platform = context.platform()?;
        let updated = self
            .flags
            .update(
                &platform,
                &context.origin(""),
                (&update.key, update.etag.as_deref()),
                update.patch,
            )
            .await?;
        Ok(flag_convert::flag(&updated))
    }

    /// DeleteFlag.
    pub async fn delete_flag(
        &self,
        context: &TenantContext,
        request: &pb::DeleteFlagRequest,
    ) -> Result<()> {
        let key = parse_flag_name(&request.name, "name")?;
        let platform = context.platform()?;
        self.flags
            .delete(&platform, &context.origin(""), &key, etag(&request.etag))
            .await
    }

    /// SetFlagOverride.
    pub async fn set_flag_override(
        &self,
        context: &TenantContext,
        request: &pb::SetFlagOverrideRequest,
    ) -> Result<pb::FlagOverride> {
        let set = SetOverride::try_from(request)?;
        let owner = self.owner(context, &set.owner).await?;
        let stored = self
            .flags
            .set_override(
                owner.scope(),
                &context.origin(""),
                (&set.flag, set.etag.as_deref()),
                set.spec,
            )
            .await?;
        Ok(flag_convert::flag_override(&stored))
    }

    /// ListFlagOverrides.
    pub async fn list_flag_overrides(
        &self,
        context: &TenantContext,
        request: &pb::ListFlagOverridesRequest,
    ) -> Result<pb::ListFlagOverridesResponse> {
        let parent = parse_override_parent(&request.parent, "parent")?;
        let size = page_size(request.page_size, "page_size")?;
        let flag = (!request.flag.is_empty()).then_some(request.flag.as_str());
        let (scope, set) = match parent {
            OverrideParent::AllPlans => (Scope::from(&context.platform()?), OverrideSet::AllPlans),
            OverrideParent::AllTenants => {
                (Scope::from(&context.platform()?), OverrideSet::AllTenants)
            }
            OverrideParent::One(owner) => match self.owner(context, &owner).await? {
                Owner::Plan(platform, plan) => (
                    Scope::from(&platform),
                    OverrideSet::One(OverrideOwner::Plan(plan)),
                ),
                Owner::Tenant(tenant) => (
                    Scope::from(&tenant),
                    OverrideSet::One(OverrideOwner::Tenant(tenant.tenant_id())),
                ),
            },
        };
        let (overrides, next_page_token) = self
            .flags
            .list_overrides(scope, (&set, flag), size, &request.page_token)
            .await?;
        Ok(pb::ListFlagOverridesResponse {
            flag_overrides: overrides.iter().map(flag_convert::flag_override).collect(),
            next_page_token,
        })
    }

    /// DeleteFlagOverride.
    pub async fn delete_flag_override(
        &self,
        context: &TenantContext,
        request: &pb::DeleteFlagOverrideRequest,
    ) -> Result<()> {
        let (owner, flag) = parse_override_name(&request.name, "name")?;
        let owner = self.owner(context, &owner).await?;
        self.flags
            .delete_override(
                owner.scope(),
                &context.origin(""),
                &flag,
                etag(&request.etag),
            )
            .await
    }

    /// EvaluateFlag.
    pub async fn evaluate_flag(
        &self,
        context: &TenantContext,
        request: &pb::EvaluateFlagRequest,
    ) -> Result<pb::EvaluateFlagResponse> {
        let evaluate = Evaluate::try_from(request)?;
        let scope = self.tenant(context, &evaluate.parent).await?;
        let evaluation = self
            .flags
            .evaluate(&scope, &evaluate.request, |found| {
                found.first().map(flag_convert::evaluation)
            })
            .await?;
        Ok(pb::EvaluateFlagResponse { evaluation })
    }

    /// EvaluateFlags.
    pub async fn evaluate_flags(
        &self,
        context: &TenantContext,
        request: &pb::EvaluateFlagsRequest,
    ) -> Result<pb::EvaluateFlagsResponse> {
        let evaluate = Evaluate::try_from(request)?;
        let scope = self.tenant(context, &evaluate.parent).await?;
        let evaluations = self
            .flags
            .evaluate(&scope, &evaluate.request, |found| {
                found.iter().map(flag_convert::evaluation).collect()
            })
            .await?;
        Ok(pb::EvaluateFlagsResponse { evaluations })
    }
}
