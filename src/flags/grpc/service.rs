//! The feature-flag methods of ConfigService: decode (validation in the
//! `TryFrom`s of [`crate::flags::grpc::convert`]), find the scope the request may
//! act in (flags and plan overrides are the platform's, tenant overrides
//! and evaluations the tenant's, through the gate), call the flag
//! directory, encode. The `ConfigService` trait methods forward their
//! requests here.

use tonic::{Request, Response};

use crate::access::Gate;
use crate::access::{TenantContext, TenantScope, open};
use crate::common::filter;
use crate::common::filter::Op;
use crate::common::paging::page_size;
use crate::error::{Error, Result};
use crate::flags::directory::Flags;
use crate::flags::flag::{
    OverrideOwner, OverrideParent, OwnerRef, parse_flag_name, parse_override_name,
    parse_override_parent,
};
use crate::flags::grpc::convert::{CreateFlag, Evaluate, SetOverride, UpdateFlag};
use crate::flags::grpc::encode;
use crate::flags::overrides::OwnerScope;
use crate::flags::reads::Evaluation;
use crate::flags::store::{FlagFilter, OverrideSet};
use crate::pb;
use crate::rpc::Reply;
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

    /// The scope and the set of overrides a listing under `parent` reads.
    async fn override_set(
        &self,
        context: &TenantContext,
        parent: OverrideParent,
    ) -> Result<(Scope, OverrideSet)> {
        Ok(match parent {
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
        })
    }

    /// EvaluateFlag and EvaluateFlags: the evaluation `request` asks for,
    /// in the scope of its tenant as the caller may reach it, answered by
    /// `answer` from what was evaluated.
    async fn evaluate<T, U>(
        &self,
        request: Request<T>,
        answer: impl FnOnce(&[Evaluation<'_>]) -> U,
    ) -> Reply<U>
    where
        for<'a> Evaluate: TryFrom<&'a T, Error = Error>,
    {
        let (context, request) = open(request)?;
        let evaluate = Evaluate::try_from(&request)?;
        let scope = self.gate.scope_for(&context, &evaluate.parent).await?;
        let answered = self.flags.evaluate(&scope, &evaluate.request, answer);
        Ok(Response::new(answered.await?))
    }

    /// CreateFlag.
    pub async fn create_flag(&self, request: Request<pb::CreateFlagRequest>) -> Reply<pb::Flag> {
        let (context, request) = open(request)?;
        let create = CreateFlag::try_from(&request)?;
        let (platform, origin) = (context.platform()?, context.origin(""));
        let created = self
            .flags
            .create(&platform, &origin, create.new, create.request_id)
            .await?;
        Ok(Response::new(pb::Flag::from(&created)))
    }

    /// GetFlag.
    pub async fn get_flag(&self, request: Request<pb::GetFlagRequest>) -> Reply<pb::Flag> {
        let key = parse_flag_name(&request.get_ref().name, "name")?;
        Ok(Response::new(pb::Flag::from(&self.flags.get(&key).await?)))
    }

    /// ListFlags.
    pub async fn list_flags(
        &self,
        request: Request<pb::ListFlagsRequest>,
    ) -> Reply<pb::ListFlagsResponse> {
        let request = request.into_inner();
        let size = page_size(request.page_size, "page_size")?;
        let filter = flag_filter(&request.filter)?;
        let (flags, next_page_token) = self.flags.list(filter, size, &request.page_token).await?;
        Ok(Response::new(pb::ListFlagsResponse {
            flags: flags.iter().map(pb::Flag::from).collect(),
            next_page_token,
        }))
    }

    /// UpdateFlag.
    pub async fn update_flag(&self, request: Request<pb::UpdateFlagRequest>) -> Reply<pb::Flag> {
        let (context, request) = open(request)?;
        let update = UpdateFlag::try_from(&request)?;
        let (platform, origin) = (context.platform()?, context.origin(""));
        let expected = (update.key.as_str(), update.etag.as_deref());
        let updated = self
            .flags
            .update(&platform, &origin, expected, update.patch)
            .await?;
        Ok(Response::new(pb::Flag::from(&updated)))
    }

    /// DeleteFlag.
    pub async fn delete_flag(&self, request: Request<pb::DeleteFlagRequest>) -> Reply<()> {
        let (context, request) = open(request)?;
        let key = parse_flag_name(&request.name, "name")?;
        let (platform, origin) = (context.platform()?, context.origin(""));
        let deleted = self
            .flags
            .delete(&platform, &origin, &key, etag(&request.etag));
        Ok(Response::new(deleted.await?))
    }

    /// SetFlagOverride.
    pub async fn set_flag_override(
        &self,
        request: Request<pb::SetFlagOverrideRequest>,
    ) -> Reply<pb::FlagOverride> {
        let (context, request) = open(request)?;
        let set = SetOverride::try_from(&request)?;
        let owner = self.owner(&context, &set.owner).await?;
        let expected = (set.flag.as_str(), set.etag.as_deref());
        let stored = self
            .flags
            .set_override(owner.scope(), &context.origin(""), expected, set.spec)
            .await?;
        Ok(Response::new(encode::flag_override(&stored)))
    }

    /// ListFlagOverrides.
    pub async fn list_flag_overrides(
        &self,
        request: Request<pb::ListFlagOverridesRequest>,
    ) -> Reply<pb::ListFlagOverridesResponse> {
        let (context, request) = open(request)?;
        let parent = parse_override_parent(&request.parent, "parent")?;
        let size = page_size(request.page_size, "page_size")?;
        let flag = (!request.flag.is_empty()).then_some(request.flag.as_str());
        let (scope, set) = self.override_set(&context, parent).await?;
        let (overrides, next_page_token) = self
            .flags
            .list_overrides(scope, (&set, flag), size, &request.page_token)
            .await?;
        Ok(Response::new(pb::ListFlagOverridesResponse {
            flag_overrides: overrides.iter().map(encode::flag_override).collect(),
            next_page_token,
        }))
    }

    /// DeleteFlagOverride.
    pub async fn delete_flag_override(
        &self,
        request: Request<pb::DeleteFlagOverrideRequest>,
    ) -> Reply<()> {
        let (context, request) = open(request)?;
        let (owner, flag) = parse_override_name(&request.name, "name")?;
        let owner = self.owner(&context, &owner).await?;
        let origin = context.origin("");
        let deleted =
            self.flags
                .delete_override(owner.scope(), &origin, &flag, etag(&request.etag));
        Ok(Response::new(deleted.await?))
    }

    /// EvaluateFlag.
    pub async fn evaluate_flag(
        &self,
        request: Request<pb::EvaluateFlagRequest>,
    ) -> Reply<pb::EvaluateFlagResponse> {
        self.evaluate(request, |found| pb::EvaluateFlagResponse {
            evaluation: found.first().map(encode::evaluation),
        })
        .await
    }

    /// EvaluateFlags.
    pub async fn evaluate_flags(
        &self,
        request: Request<pb::EvaluateFlagsRequest>,
    ) -> Reply<pb::EvaluateFlagsResponse> {
        self.evaluate(request, |found| pb::EvaluateFlagsResponse {
            evaluations: found.iter().map(encode::evaluation).collect(),
        })
        .await
    }
}
