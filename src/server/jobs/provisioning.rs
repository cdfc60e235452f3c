//! The provisioning reconciler and the purge job, one loop: at start and
//! every interval it finishes tenants a crash left PROVISIONING, purges
//! deleted tenants past their purge time and removes expired domain claims. Each step takes its own job lock
//! (see `domain::provision`), so one replica at a time does it.

use std::time::Duration;

use chrono::Utc;
use tokio::task::JoinHandle;

use crate::error::error_chain;
use crate::tenancy::tenants::Tenants;

/// Runs both steps now and then every `interval`, until aborted.
pub fn spawn(tenants: Tenants, interval: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // The first tick completes at once: reconciliation at start.
            ticks.tick().await;
            reconcile(&tenants).await;
            purge(&tenants).await;
            expire_domain_claims(&tenants).await;
        }
    })
}

async fn expire_domain_claims(tenants: &Tenants) {
    match tenants.expire_domain_claims(Utc::now()).await {
        Ok(0) => {}
        Ok(count) => tracing::info!(claims = count, "expired domain claims removed"),
        Err(error) => {
            tracing::warn!(error = %error_chain(&error), "removing expired domain claims failed; retrying at the next tick");
        }
    }
}

async fn reconcile(tenants: &Tenants) {
    match tenants.reconcile_provisioning().await {
        Ok(Some(0)) => {}
        Ok(Some(count)) => tracing::info!(tenants = count, "tenants left provisioning reconciled"),
        Ok(None) => tracing::trace!("the provisioning reconciler runs on another replica"),
        Err(error) => {
            tracing::warn!(error = %error_chain(&error), "provisioning reconciliation failed; retrying at the next tick");
        }
    }
}

async fn purge(tenants: &Tenants) {
    match tenants.purge_expired(Utc::now()).await {
        Ok(Some(0)) => {}
        Ok(Some(count)) => tracing::info!(tenants = count, "deleted tenants purged"),
        Ok(None) => tracing::trace!("the purge job runs on another replica"),
        Err(error) => {
            tracing::warn!(error = %error_chain(&error), "purging deleted tenants failed; retrying at the next tick");
        }
    }
}
