//! Flags of tenant provisioning and of the `tenantd tenants …` operator
//! commands.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::error::Result;
use crate::tenancy::provisioning::template::Template;

/// Where the tenant template comes from; shared by `serve` and `tenants`.
#[derive(Debug, Clone, Default, Args)]
pub struct TemplateArgs {
    /// Directory of the tenant template applied to SCHEMA tenants' schemas:
    /// `0001_name.sql`, `0002_name.sql`, … each run in one transaction. The
    /// example template compiled into tenantd when unset.
    #[arg(long, global = true, env = "TENANTD_TENANT_TEMPLATE_DIR")]
    pub tenant_template_dir: Option<PathBuf>,
}

/// The template in `directory`, or the embedded one.
pub fn load_template(directory: Option<&std::path::Path>) -> Result<Template> {
    match directory {
        Some(directory) => Template::from_dir(directory),
        None => Template::embedded(),
    }
}

/// `tenantd tenants …`: operator commands on tenants' schemas. They use the
/// database URL for the control plane and `--migration-database-url` (the
/// owner's) for schema DDL, as `serve` does.
#[derive(Debug, Subcommand)]
pub enum TenantsCommand {
    /// Purge deleted tenants whose purge time has passed (schema, role and
    /// control-plane rows; the audit trail stays), with a progress bar.
    Purge(PurgeArgs),
    /// Apply pending tenant-template files to every SCHEMA tenant.
    Migrate(MigrateArgs),
    /// Write a tenant's archive (control-plane rows and, for SCHEMA
    /// tenants, its schema's data) to stdout, as ExportTenant streams it.
    Export(ExportArgs),
    /// Read an archive from stdin and restore the tenant it holds; every
    /// checksum is verified before anything is written.
    Import(ImportArgs),
    /// Show how tenants' calls went over the last hour and day: requests,
    /// server-side failures, error ratio, p99 latency and whether their
    /// plan's objectives are met, as a table. Reads only the counts
    /// replicas have flushed to the database, so each serving replica's
    /// last `--tenant-health-flush-interval` (10s) of calls is not in it yet;
    /// GetTenantHealth includes the answering replica's own.
    Health(HealthArgs),
}

/// Settings of `tenantd tenants health`.
#[derive(Debug, Clone, Args)]
pub struct HealthArgs {
    /// The tenants to show, each a UUID, `slug:SLUG`, `external:ID` or a
    /// `tenants/…` name; when none is named, the tenants with the most
    /// failures in the last day (at most 20).
    #[arg(value_name = "TENANT")]
    pub tenants: Vec<String>,
}

/// Settings of `tenantd tenants export`.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// The tenant to export.
    #[arg(value_name = "TENANT_ID")]
    pub tenant_id: uuid::Uuid,
}

/// Settings of `tenantd tenants import`.
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// Import under this id instead of the archive's.
    #[arg(long, value_name = "TENANT_ID")]
    pub tenant_id: Option<uuid::Uuid>,
    /// Give the tenant this slug instead of the archive's.
    #[arg(long)]
    pub slug: Option<String>,
}

/// Settings of `tenantd tenants purge`.
#[derive(Debug, Clone, Args)]
pub struct PurgeArgs {
    /// Purge this deleted tenant now, whatever its purge time.
    #[arg(long = "now", value_name = "TENANT_ID")]
    pub now: Option<uuid::Uuid>,
}

/// Settings of `tenantd tenants migrate`.
#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    /// Tenants migrated at once, 1 to 64 (each holds two connections of the
    /// owner's).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub concurrency: u32,
    /// Only report which tenants have pending files; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}
