//! `tenantd tenants migrate [--concurrency N] [--dry-run]`: the fleet
//! rollout of the tenant template. Every SCHEMA tenant's schema gets the
//! files it lacks, N tenants at a time, with a progress bar and ETA. A
//! tenant that fails is reported with its error while the others go on,
//! and the command then exits non-zero.
//!
//! Resumable by construction: each schema records its own version, so a
//! second run skips the tenants already current and retries only the rest.

use tokio::task::JoinSet;

use crate::cli::progress;
use crate::common::ids::TenantId;
use crate::error::{Error, Result};
use crate::settings::tenants::MigrateArgs;
use crate::tenancy::tenants::Tenants;

/// What happened to the fleet.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Tenants that got files (or, in a dry run, would).
    pub migrated: usize,
    /// Tenants already at the newest version.
    pub current: usize,
    /// Tenants that failed, with their error.
    pub failed: Vec<(TenantId, String)>,
}

/// Runs the rollout and prints its summary; fails when any tenant did.
pub async fn run(tenants: Tenants, args: &MigrateArgs) -> Result<()> {
    let summary = roll_out(tenants, args).await?;
    let verb = if args.dry_run {
        "to migrate"
    } else {
        "migrated"
    };
    println!(
        "{} {verb}, {} already current, {} failed",
        summary.migrated,
        summary.current,
        summary.failed.len()
    );
    for (tenant_id, error) in &summary.failed {
        println!("failed {}: {error}", tenant_id.resource_name());
    }
    if !summary.failed.is_empty() {
        return Err(Error::internal(format!(
            "{} tenants failed to migrate; fix them and run again",
            summary.failed.len()
        )));
    }
    Ok(())
}

/// Migrates every SCHEMA tenant, at most `args.concurrency` at once.
pub async fn roll_out(tenants: Tenants, args: &MigrateArgs) -> Result<Summary> {
    let fleet = tenants.schema_tenants().await?;
    let bar = progress::bar(
        fleet.len(),
        "{bar:40} {pos}/{len} tenants  {per_sec}  eta {eta}  {msg}",
    )?;
    let mut pending = fleet.into_iter();
    let mut running = JoinSet::new();
    let mut summary = Summary::default();
    loop {
        while running.len() < args.concurrency.max(1) as usize {
            let Some(tenant_id) = pending.next() else {
                break;
            };
            let tenants = tenants.clone();
            let dry_run = args.dry_run;
            running.spawn(async move {
                let outcome = tenants.migrate_template(tenant_id, dry_run).await;
                (tenant_id, outcome)
            });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (tenant_id, outcome) = joined.map_err(Error::internal)?;
        match outcome {
            Ok((before, after)) if before < after => summary.migrated += 1,
            Ok(_) => summary.current += 1,
            Err(error) => {
                let message = error.to_string();
                bar.println(format!("{}: {message}", tenant_id.resource_name()));
                summary.failed.push((tenant_id, message));
            }
        }
        bar.inc(1);
        bar.set_message(format!("{} failed", summary.failed.len()));
    }
    bar.finish();
    tracing::info!(
        migrated = summary.migrated,
        current = summary.current,
        failed = summary.failed.len(),
        dry_run = args.dry_run,
        "tenant template rollout finished"
    );
    Ok(summary)
}
