//! `tenantd tenants purge [--now ID]`: purges deleted tenants whose purge
//! time has passed (or one tenant at once), with a progress bar. A tenant
//! that fails is reported and the others still purged; the command then
//! fails.

use chrono::Utc;

use crate::cli::progress;
use crate::common::ids::TenantId;
use crate::error::{Error, Result, error_chain};
use crate::tenancy::tenants::Tenants;

/// Purges `now` at once, or every tenant due.
pub async fn run(tenants: Tenants, now: Option<TenantId>) -> Result<()> {
    if let Some(tenant_id) = now {
        return tenants.purge(tenant_id).await;
    }
    let due = tenants.due_for_purge(Utc::now()).await?;
    let bar = progress::bar(due.len(), "{bar:40} {pos}/{len} tenants  {eta} left  {msg}")?;
    let mut failed = 0;
    for tenant_id in due {
        bar.set_message(tenant_id.to_string());
        if let Err(error) = tenants.purge(tenant_id).await {
            failed += 1;
            bar.println(format!(
                "{}: {}",
                tenant_id.resource_name(),
                error_chain(&error)
            ));
        }
        bar.inc(1);
    }
    let purged = bar.position() - failed;
    bar.finish_with_message(format!("{purged} purged, {failed} failed"));
    tracing::info!(purged, failed, "tenant purge finished");
    if failed > 0 {
        return Err(Error::internal(format!(
            "{failed} tenants could not be purged"
        )));
    }
    Ok(())
}
