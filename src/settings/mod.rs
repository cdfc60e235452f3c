//! Configuration: command-line flags, each also read from a `TENANTD_*`
//! environment variable, parsed once and validated into [`Config`].
//!
//! One file a concern: the commands and the flags they share here, `serve`'s
//! flags in [`serve`] (its TLS flags in [`tls`], Envoy ext_authz's answers
//! in [`ext_authz`], the NATS event sink's in [`events_nats`], metrics and connection ageing in
//! [`observe`], webhook delivery in [`webhooks`]), the usage commands' in [`usage`], the tenants
//! commands' in [`tenants`], the validated [`Config`] in [`config`], and the
//! redaction of database URLs for logs in [`redact`].

pub mod config;
pub mod events;
pub mod events_nats;
pub mod ext_authz;
pub mod observe;
pub mod redact;
pub mod serve;
pub mod tenants;
pub mod tls;
pub mod usage;
pub mod webhooks;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use crate::access::named_tokens::{MIN_TOKEN_BYTES, NamedToken, parse_tokens};
pub use crate::settings::config::{BudgetSettings, Config, DEFAULT_KEY_USE_FLUSH};
pub use crate::settings::events::{EventSettings, EventsArgs, EventsCommand};
pub use crate::settings::events_nats::EventsNatsArgs;
pub use crate::settings::ext_authz::ExtAuthzArgs;
pub use crate::settings::observe::{ConnectionSettings, MetricsSettings, ObserveArgs};
pub use crate::settings::redact::redact_url;
pub use crate::settings::serve::{BudgetArgs, ServeArgs};
pub use crate::settings::tenants::{
    ExportArgs, HealthArgs, ImportArgs, MigrateArgs, PurgeArgs, TemplateArgs, TenantsCommand,
    load_template,
};
pub use crate::settings::tls::{ClientIdentity, ClientService, TlsArgs, TlsSettings};
pub use crate::settings::usage::{
    ExportFormat, ReaggregateArgs, RetentionArgs, UsageCommand, UsageExportArgs,
};
pub use crate::settings::webhooks::WebhookArgs;

/// The embedded default database: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://tenantd.db?mode=rwc";

/// tenantd: the tenant control plane.
#[derive(Debug, Parser)]
#[command(name = "tenantd", version, about)]
pub struct Cli {
    /// Settings every command shares.
    #[command(flatten)]
    pub common: CommonArgs,
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The commands.
// Parsed once at start: the size of the serve variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the gRPC API (the default).
    Serve(ServeArgs),
    /// Apply pending control-plane migrations and exit.
    Migrate,
    /// Operator commands on usage data: export and reaggregation.
    #[command(subcommand)]
    Usage(UsageCommand),
    /// Operator commands on tenants: purge, template rollout, archives,
    /// service levels.
    #[command(subcommand)]
    Tenants(TenantsCommand),
    /// Operator commands on lifecycle events: tail.
    #[command(subcommand)]
    Events(EventsCommand),
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Settings every command shares.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Database URL: `sqlite://FILE?mode=rwc` or `postgres://USER@HOST/DB`.
    #[arg(long, global = true, env = "TENANTD_DATABASE_URL", default_value = DEFAULT_DATABASE_URL, hide_env_values = true)]
    pub database_url: String,
    /// Database URL migrations run with, as the owner of the tables; the
    /// database URL when unset. On PostgreSQL the server itself should
    /// connect as a role that neither owns the tables nor is a superuser, so
    /// row-level security applies to it.
    #[arg(
        long,
        global = true,
        env = "TENANTD_MIGRATION_DATABASE_URL",
        hide_env_values = true
    )]
    pub migration_database_url: Option<String>,
    /// Log format.
    #[arg(
        long,
        global = true,
        env = "TENANTD_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,
    /// Log filter, in `tracing` env-filter syntax (e.g. `info,tenantd=debug`).
    #[arg(
        long = "log",
        global = true,
        env = "TENANTD_LOG",
        default_value = "info"
    )]
    pub log_filter: String,
    /// The tenant template.
    #[command(flatten)]
    pub template: TemplateArgs,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_named_and_checked() {
        let entries = [
            "ops=0123456789abcdef0".to_owned(),
            " fedcba9876543210 ".to_owned(),
        ];
        let tokens = parse_tokens(&entries, "admin-tokens").expect("valid tokens");
        assert_eq!(tokens[0].name, "ops");
        assert_eq!(tokens[1].name, "admin-tokens#2");
        assert_eq!(tokens[1].token, "fedcba9876543210");
        assert!(!format!("{tokens:?}").contains("0123456789abcdef0"));
        assert!(parse_tokens(&["ops=short".to_owned()], "admin-tokens").is_err());
        assert!(parse_tokens(&["a b=0123456789abcdef0".to_owned()], "admin-tokens").is_err());
        let twice = [
            "x=0123456789abcdef0".to_owned(),
            "x=0123456789abcdef1".to_owned(),
        ];
        assert!(parse_tokens(&twice, "admin-tokens").is_err());
    }

    #[test]
    fn no_command_means_serve_with_defaults() {
        let cli = Cli::parse_from(["tenantd"]);
        assert!(cli.command.is_none());
        let cli = Cli::parse_from([
            "tenantd",
            "serve",
            "--listen-addr",
            "127.0.0.1:0",
            "--no-migrate",
        ]);
        assert!(matches!(
            cli.command,
            Some(Command::Serve(ServeArgs {
                no_migrate: true,
                ..
            }))
        ));
    }
}
