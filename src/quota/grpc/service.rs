//! QuotaService: decode, call the plan catalogue, the quota checks or the
//! overrides, encode.

use tonic::{Request, Response};

use crate::access::Gate;
use crate::access::{TenantContext, TenantScope};
use crate::access::{open, open_platform};
use crate::common::ids::{AuditParent, QuotaOverrideName, TenantRef, request_id};
use crate::common::paging::page_size;
use crate::error::Error;
use crate::pb;
use crate::pb::quota_service_server::QuotaService;
use crate::quota::grpc::call::{CostsRequest, status_keys};
use crate::quota::grpc::convert::{new_plan, override_change, plan_update, quota_override};
use crate::quota::grpc::outcome::{quota_result, quota_status};
use crate::quota::overrides::OverridesOf;
use crate::quota::plan::parse_plan_name;
use crate::quota::plans::Plans;
use crate::quota::quotas::{Operation, QuotaOutcome, Quotas};
use crate::rpc::Reply;
use crate::rpc::convert::etag;
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

    /// Whose overrides a ListQuotaOverrides `parent` names: every tenant's
    /// (`tenants/-`, for the platform only) or one tenant's.
    async fn overrides_of(
        &self,
        context: &TenantContext,
        parent: &str,
    ) -> Result<OverridesOf, Error> {
        match AuditParent::parse(parent, "parent")? {
            AuditParent::AllTenants => Ok(OverridesOf::AllTenants(context.platform()?)),
            AuditParent::Tenant(by) => Ok(OverridesOf::Tenant(
                self.gate.scope_for(context, &by).await?,
            )),
        }
    }

    /// Check, Allocate and Release: one limiter batch each, answered with
    /// the results the three responses share.
    async fn batch<R: CostsRequest, T: From<Batch>>(
        &self,
        request: Request<R>,
        operation: Operation,
    ) -> Reply<T> {
        let (context, request) = open(request)?;
        // The call's bounds are checked before any other work.
        let call = request.call()?;
        let scope = self.scope(&context, request.parent()).await?;
        let outcomes = self.quotas.apply(&scope, operation, call).await?;
        Ok(Response::new(T::from(Batch::of(&outcomes))))
    }
}

/// The answer of a Check, Allocate or Release call.
struct Batch {
    /// Whether every cost was allowed.
    allowed: bool,
    /// One result per cost, in the call's order.
    results: Vec<pb::QuotaResult>,
    /// Whether any answer came from the local fallback.
    degraded: bool,
}

impl Batch {
    fn of(outcomes: &[QuotaOutcome]) -> Self {
        Self {
            allowed: outcomes.iter().all(|outcome| outcome.outcome.allowed),
            results: outcomes.iter().map(quota_result).collect(),
            degraded: degraded(outcomes),
        }
    }
}

/// CheckQuota and AllocateQuota answer with all of a batch.
macro_rules! batch_response {
    ($($response:ty),*) => {$(
        impl From<Batch> for $response {
            fn from(batch: Batch) -> Self {
                Self { allowed: batch.allowed, results: batch.results, degraded: batch.degraded }
            }
        }
    )*};
}

batch_response!(pb::CheckQuotaResponse, pb::AllocateQuotaResponse);

/// A release is never refused, so its answer has no `allowed`.
impl From<Batch> for pb::ReleaseQuotaResponse {
    fn from(batch: Batch) -> Self {
        Self {
            results: batch.results,
            degraded: batch.degraded,
        }
    }
}

/// Whether any answer came from the local fallback.
fn degraded(outcomes: &[QuotaOutcome]) -> bool {
    outcomes.iter().any(|outcome| outcome.outcome.degraded)
}

#[tonic::async_trait]
impl QuotaService for QuotaApi {
    async fn create_plan(&self, request: Request<pb::CreatePlanRequest>) -> Reply<pb::Plan> {
        let (platform, context, request) = open_platform(request)?;
        let new = new_plan(&request)?;
        let (origin, request_id) = (
            context.origin(&request.request_id),
            request_id(&request.request_id)?,
        );
        let plan = self
            .plans
            .create(&platform, &origin, new, request_id)
            .await?;
        Ok(Response::new(pb::Plan::from(&plan)))
    }

    async fn get_plan(&self, request: Request<pb::GetPlanRequest>) -> Reply<pb::Plan> {
        let (platform, _, request) = open_platform(request)?;
        let id = parse_plan_name(&request.name, "name")?;
        let plan = self.plans.get(Scope::from(&platform), &id).await?;
        Ok(Response::new(pb::Plan::from(&plan)))
    }

    async fn list_plans(
        &self,
        request: Request<pb::ListPlansRequest>,
    ) -> Reply<pb::ListPlansResponse> {
        let (platform, _, request) = open_platform(request)?;
        let size = page_size(request.page_size, "page_size")?;
        let scope = Scope::from(&platform);
        let (plans, next_page_token) = self.plans.list(scope, size, &request.page_token).await?;
        let plans = plans.iter().map(pb::Plan::from).collect();
        Ok(Response::new(pb::ListPlansResponse {
            plans,
            next_page_token,
        }))
    }

    async fn update_plan(&self, request: Request<pb::UpdatePlanRequest>) -> Reply<pb::Plan> {
        let (platform, context, request) = open_platform(request)?;
        let origin = context.origin("");
        let (id, expected, patch) = plan_update(&request)?;
        let updated = self.plans.update(&platform, &origin, &id, expected, patch);
        Ok(Response::new(pb::Plan::from(&updated.await?)))
    }

    async fn set_quota_override(
        &self,
        request: Request<pb::SetQuotaOverrideRequest>,
    ) -> Reply<pb::QuotaOverride> {
        let (context, request) = open(request)?;
        let origin = context.origin("");
        let given = request.quota_override.as_ref();
        let (name, change) = override_change(given)?;
        let scope = self.gate.scope_for(&context, &name.tenant).await?;
        let expected = given.and_then(|value| etag(&value.etag));
        let value = self
            .quotas
            .set_override(&scope, &origin, change, expected, request.force)
            .await?;
        Ok(Response::new(quota_override(&value)))
    }

    async fn list_quota_overrides(
        &self,
        request: Request<pb::ListQuotaOverridesRequest>,
    ) -> Reply<pb::ListQuotaOverridesResponse> {
        let (context, request) = open(request)?;
        let size = page_size(request.page_size, "page_size")?;
        let of = self.overrides_of(&context, &request.parent).await?;
        let (overrides, next_page_token) = self
            .quotas
            .list_overrides(of, size, &request.page_token)
            .await?;
        let quota_overrides = overrides.iter().map(quota_override).collect();
        Ok(Response::new(pb::ListQuotaOverridesResponse {
            quota_overrides,
            next_page_token,
        }))
    }

    async fn delete_quota_override(
        &self,
        request: Request<pb::DeleteQuotaOverrideRequest>,
    ) -> Reply<()> {
        let (context, request) = open(request)?;
        let origin = context.origin("");
        let name = QuotaOverrideName::parse(&request.name, "name")?;
        let scope = self.gate.scope_for(&context, &name.tenant).await?;
        let expected = etag(&request.etag);
        self.quotas
            .delete_override(&scope, &origin, &name.quota, expected, request.force)
            .await?;
        Ok(Response::new(()))
    }

    crate::rpc::forward! {
        check_quota(pb::CheckQuotaRequest) -> pb::CheckQuotaResponse
            => self.batch(Operation::Check);
        allocate_quota(pb::AllocateQuotaRequest) -> pb::AllocateQuotaResponse
            => self.batch(Operation::Allocate);
        release_quota(pb::ReleaseQuotaRequest) -> pb::ReleaseQuotaResponse
            => self.batch(Operation::Release);
    }

    async fn get_quota_status(
        &self,
        request: Request<pb::GetQuotaStatusRequest>,
    ) -> Reply<pb::GetQuotaStatusResponse> {
        let (context, request) = open(request)?;
        status_keys(&request.quotas)?;
        let scope = self.scope(&context, &request.parent).await?;
        let (plan, outcomes) = self.quotas.status(&scope, &request.quotas).await?;
        Ok(Response::new(pb::GetQuotaStatusResponse {
            plan: plan.resource_name(),
            quotas: outcomes.iter().map(quota_status).collect(),
            degraded: degraded(&outcomes),
        }))
    }
}
