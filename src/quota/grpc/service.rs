//! QuotaService: decode, call the plan catalogue, the quota checks or the
//! overrides, encode.

use tonic::Request;

use crate::access::Gate;
use crate::access::context;
use crate::access::{TenantContext, TenantScope};
use crate::common::ids::{AuditParent, QuotaOverrideName, TenantRef, request_id};
use crate::common::paging::page_size;
use crate::error::Error;
use crate::pb;
use crate::pb::quota_service_server::QuotaService;
use crate::quota::grpc::call as quota_call;
use crate::quota::grpc::convert as quota_convert;
use crate::quota::grpc::convert::{quota_result, quota_status};
use crate::quota::overrides::OverridesOf;
use crate::quota::plan::parse_plan_name;
use crate::quota::plans::Plans;
use crate::quota::quotas::{Operation, QuotaOutcome, Quotas};
use crate::rpc::convert::etag;
use crate::rpc::{Reply, reply};
use crate::store::scope::Scope;

/// The QuotaService implementation.
pub struct QuotaApi {
    /// The plan catalogue.
    plans: Plans,
    /// Quota checks.
    quotas: Quotas,
    /// Scopes callers to the tenants they may reach.
    gate: Gate,
}

impl QuotaApi {
    /// Serves `plans` and `quotas`, reached through `gate`.
    pub fn new(plans: Plans, quotas: Quotas, gate: Gate) -> Self {
        Self {
            plans,
            quotas,
            gate,
        }
    }

    async fn scope(&self, context: &TenantContext, parent: &str) -> Result<TenantScope, Error> {
        let by = TenantRef::parse_name(parent, "parent")?;
        self.gate.scope_for(context, &by).await
    }

    /// Check, Allocate and Release: one limiter batch each.
    async fn apply(
        &self,
        context: &TenantContext,
        parent: &str,
        operation: Operation,
        call: Result<crate::quota::quotas::QuotaCall, Error>,
    ) -> Result<Vec<QuotaOutcome>, Error> {
        // The call's bounds are checked before any other work.
        let call = call?;
        let scope = self.scope(context, parent).await?;
        self.quotas.apply(&scope, operation, call).await
    }
}

/// Whether any answer came from the local fallback.
fn degraded(outcomes: &[QuotaOutcome]) -> bool {
    outcomes.iter().any(|outcome| outcome.outcome.degraded)
}

fn results(outcomes: &[QuotaOutcome]) -> (bool, Vec<pb::QuotaResult>) {
    let allowed = outcomes.iter().all(|outcome| outcome.outcome.allowed);
    (allowed, outcomes.iter().map(quota_result).collect())
}

#[tonic::async_trait]
impl QuotaService for QuotaApi {
    async fn create_plan(&self, request: Request<pb::CreatePlanRequest>) -> Reply<pb::Plan> {
        let context = context(&request)?;
        let request = request.into_inner();
        let origin = context.origin(&request.request_id);
        let result = async {
            let platform = context.platform()?;
            let new = quota_convert::new_plan(&request)?;
            let request_id = request_id(&request.request_id)?;
            self.plans.create(&platform, &origin, new, request_id).await
        }
        .await;
        reply(result, |plan| pb::Plan::from(&plan))
    }

    async fn get_plan(&self, request: Request<pb::GetPlanRequest>) -> Reply<pb::Plan> {
        let context = context(&request)?;
        let request = request.into_inner();
        let result = async {
            let platform = context.platform()?;
            let id = parse_plan_name(&request.name, "name")?;
            self.plans.get(Scope::from(&platform), &id).await
        }
        .await;
        reply(result, |plan| pb::Plan::from(&plan))
    }

    async fn list_plans(
        &self,
        request: Request<pb::ListPlansRequest>,
    ) -> Reply<pb::ListPlansResponse> {
        let context = context(&request)?;
        let request = request.into_inner();
        let result = async {
            let platform = context.platform()?;
            let size = page_size(request.page_size, "page_size")?;
            self.plans
                .list(Scope::from(&platform), size, &request.page_token)
                .await
        }
        .await;
        reply(result, |(plans, next_page_token)| pb::ListPlansResponse {
            plans: plans.iter().map(pb::Plan::from).collect(),
            next_page_token,
        })
    }

    async fn update_plan(&self, request: Request<pb::UpdatePlanRequest>) -> Reply<pb::Plan> {
        let context = context(&request)?;
        let origin = context.origin("");
        let request = request.into_inner();
        let result = async {
            let platform = context.platform()?;
            let Some(plan) = &request.plan else {
                return Err(Error::invalid_field("plan", "is required"));
            };
            let id = parse_plan_name(&plan.name, "plan.name")?;
            let patch = quota_convert::plan_patch(plan, request.update_mask.as_ref())?;
            self.plans
                .update(&platform, &origin, &id, etag(&plan.etag), patch)
                .await
        }
        .await;
        reply(result, |plan| pb::Plan::from(&plan))
    }

    async fn set_quota_override(
        &self,
        request: Request<pb::SetQuotaOverrideRequest>,
    ) -> Reply<pb::QuotaOverride> {
        let context = context(&request)?;
        let origin = context.origin("");
        let request = request.into_inner();
        let result = async {
            let given = request.quota_override.as_ref();
            let (name, change) = quota_convert::override_change(given)?;
            let scope = self.gate.scope_for(&context, &name.tenant).await?;
            let expected = given.and_then(|value| etag(&value.etag));
            self.quotas
                .set_override(&scope, &origin, change, expected, request.force)
                .await
        }
        .await;
        reply(result, |value| quota_convert::quota_override(&value))
    }

    async fn list_quota_overrides(
        &self,
        request: Request<pb::ListQuotaOverridesRequest>,
    ) -> Reply<pb::ListQuotaOverridesResponse> {
        let context = context(&request)?;
        let request = request.into_inner();
        let result = async {
            let size = page_size(request.page_size, "page_size")?;
            match AuditParent::parse(&request.parent, "parent")? {
                AuditParent::AllTenants => {
                    let platform = context.platform()?;
                    let of = OverridesOf::AllTenants(&platform);
                    self.quotas
                        .list_overrides(of, size, &request.page_token)
                        .await
                }
                AuditParent::Tenant(by) => {
                    let scope = self.gate.scope_for(&context, &by).await?;
                    let of = OverridesOf::Tenant(&scope);
                    self.quotas
                        .list_overrides(of, size, &request.page_token)
                        .await
                }
            }
        }
        .await;
        reply(result, |(overrides, next_page_token)| {
            pb::ListQuotaOverridesResponse {
                quota_overrides: overrides
                    .iter()
                    .map(quota_convert::quota_override)
                    .collect(),
                next_page_token,
            }
        })
    }

    async fn delete_quota_override(
        &self,
        request: Request<pb::DeleteQuotaOverrideRequest>,
    ) -> Reply<()> {
        let context = context(&request)?;
        let origin = context.origin("");
        let request = request.into_inner();
        let result = async {
            let name = QuotaOverrideName::parse(&request.name, "name")?;
            let scope = self.gate.scope_for(&context, &name.tenant).await?;
            self.quotas
                .delete_override(
                    &scope,
                    &origin,
                    &name.quota,
                    etag(&request.etag),
                    request.force,
                )
                .await
        }
        .await;
        reply(result, |()| ())
    }

    async fn check_quota(
        &self,
        request: Request<pb::CheckQuotaRequest>,
    ) -> Reply<pb::CheckQuotaResponse> {
        let context = context(&request)?;
        let request = request.into_inner();
        let call = quota_call::quota_call(&request.costs, request.mode, &request.request_id, false);
        let result = self
            .apply(&context, &request.parent, Operation::Check, call)
            .await;
        reply(result, |outcomes| {
            let (allowed, results) = results(&outcomes);
            pb::CheckQuotaResponse {
                allowed,
                results,
                degraded: degraded(&outcomes),
            }
        })
    }

    async fn allocate_quota(
        &self,
        request: Request<pb::AllocateQuotaRequest>,
    ) -> Reply<pb::AllocateQuotaResponse> {
        let context = context(&request)?;
        let request = request.into_inner();
        let call = quota_call::quota_call(&request.costs, request.mode, &request.request_id, false);
        let result = self
            .apply(&context, &request.parent, Operation::Allocate, call)
            .await;
        reply(result, |outcomes| {
            let (allowed, results) = results(&outcomes);
            pb::AllocateQuotaResponse {
                allowed,
                results,
                degraded: degraded(&outcomes),
            }
        })
    }

    async fn release_quota(
        &self,
        request: Request<pb::ReleaseQuotaRequest>,
    ) -> Reply<pb::ReleaseQuotaResponse> {
        let context = context(&request)?;
        let request = request.into_inner();
        let call = quota_call::quota_call(&request.costs, 0, &request.request_id, true);
        let result = self
            .apply(&context, &request.parent, Operation::Release, call)
            .await;
        reply(result, |outcomes| pb::ReleaseQuotaResponse {
            results: results(&outcomes).1,
            degraded: degraded(&outcomes),
        })
    }

    async fn get_quota_status(
        &self,
        request: Request<pb::GetQuotaStatusRequest>,
    ) -> Reply<pb::GetQuotaStatusResponse> {
        let context = context(&request)?;
        let request = request.into_inner();
        let result = async {
            quota_call::status_keys(&request.quotas)?;
            let scope = self.scope(&context, &request.parent).await?;
            self.quotas.status(&scope, &request.quotas).await
        }
        .await;
        reply(result, |(plan, outcomes)| pb::GetQuotaStatusResponse {
            plan: plan.resource_name(),
            quotas: outcomes.iter().map(quota_status).collect(),
            degraded: degraded(&outcomes),
        })
    }
}
