//! Flags of the `tenantd usage …` operator commands, and the retention of
//! raw usage events that `serve` shares with them.

use chrono::NaiveDate;
use clap::{Args, Subcommand, ValueEnum};

/// `tenantd usage …`: commands that work on the database directly, with the
/// database URL's credentials (use the owner's, `--migration-database-url`
/// is not consulted).
#[derive(Debug, Subcommand)]
pub enum UsageCommand {
    /// Write daily rollups for billing to standard output.
    Export(UsageExportArgs),
    /// Recompute the daily rollups of a range of days from the raw events,
    /// under the aggregation lock, with a progress bar.
    Reaggregate(ReaggregateArgs),
}

/// Formats `tenantd usage export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// Comma-separated values with a header line.
    Csv,
}

/// Settings of `tenantd usage export`.
#[derive(Debug, Clone, Args)]
pub struct UsageExportArgs {
    /// The output format.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: ExportFormat,
    /// The first day, `YYYY-MM-DD` (UTC).
    #[arg(long)]
    pub from: NaiveDate,
    /// The last day, `YYYY-MM-DD` (UTC), included; at most 366 days after
    /// `--from`.
    #[arg(long)]
    pub to: NaiveDate,
    /// A tenant id to export (repeatable); every tenant when none is given.
    #[arg(long = "tenant")]
    pub tenants: Vec<uuid::Uuid>,
    /// A metric key to export (repeatable); every metric when none is given.
    #[arg(long = "metric")]
    pub metrics: Vec<String>,
}

/// Settings of `usage reaggregate`.
#[derive(Debug, Clone, Args)]
pub struct ReaggregateArgs {
    /// First UTC day, `YYYY-MM-DD`.
    #[arg(long)]
    pub from: chrono::NaiveDate,
    /// Last UTC day (inclusive), `YYYY-MM-DD`.
    #[arg(long)]
    pub to: chrono::NaiveDate,
    /// Retention of raw events.
    #[command(flatten)]
    pub retention: RetentionArgs,
}

/// How long raw usage events are kept.
#[derive(Debug, Clone, Args)]
pub struct RetentionArgs {
    /// Days raw usage events are kept after their day is final (older than
    /// the 7-day late-arrival window); rollups are kept regardless.
    #[arg(long, env = "TENANTD_USAGE_EVENT_RETENTION_DAYS", default_value_t = 35)]
    pub usage_event_retention_days: u32,
}
