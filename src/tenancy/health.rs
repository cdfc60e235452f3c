//! Where GetTenantHealth's answer comes from. Per-tenant service levels
//! (`slo`) read plans, so that room sits above this one; TenantService
//! serves the RPC through this trait, which that room implements and the
//! server plugs in, and tenancy imports nothing above it.

use crate::error::Result;
use crate::pb;
use crate::tenancy::tenant::Tenant;

/// Answers how a tenant's calls went.
#[async_trait::async_trait]
pub trait TenantHealthSource: Send + Sync {
    /// How `tenant`'s calls went over the last hour and the last day.
    async fn tenant_health(&self, tenant: &Tenant) -> Result<pb::TenantHealth>;
}
