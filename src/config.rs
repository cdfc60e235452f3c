//! Configuration: command-line flags, each also read from a `TENANTD_*`
//! environment variable, parsed once and validated into [`Config`].

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::domain::validate;
use crate::error::{Error, Result};
use crate::storage::PoolOptions;

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
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the gRPC API (the default).
    Serve(ServeArgs),
    /// Apply pending control-plane migrations and exit.
    Migrate,
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
}

/// Settings of `serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "TENANTD_LISTEN_ADDR", default_value = "0.0.0.0:50051")]
    pub listen_addr: SocketAddr,
    /// Do not apply migrations at start (when a migration job does); refuse
    /// to start while any are pending.
    #[arg(long, env = "TENANTD_NO_MIGRATE")]
    pub no_migrate: bool,
    /// Tenants are also reached at `{slug}.{base domain}`.
    #[arg(long, env = "TENANTD_BASE_DOMAIN")]
    pub base_domain: Option<String>,
    /// DNS server (`IP:PORT`) for domain verification; the system's when unset.
    #[arg(long, env = "TENANTD_DNS_RESOLVER")]
    pub dns_resolver: Option<SocketAddr>,
    /// Days a deleted tenant is kept before it is purged.
    #[arg(long, env = "TENANTD_PURGE_AFTER_DAYS", default_value_t = 30)]
    pub purge_after_days: u32,
    /// Seconds in-flight calls get to finish after SIGTERM or Ctrl-C.
    #[arg(long, env = "TENANTD_SHUTDOWN_GRACE_SECONDS", default_value_t = 20)]
    pub shutdown_grace_seconds: u64,
    /// Most PostgreSQL connections (SQLite always uses one).
    #[arg(long, env = "TENANTD_MAX_DB_CONNECTIONS", default_value_t = 16)]
    pub max_db_connections: u32,
}

impl ServeArgs {
    /// `serve` settings from the environment and defaults alone, for when
    /// no command is given.
    pub fn from_env() -> Self {
        #[derive(Parser)]
        struct ServeOnly {
            #[command(flatten)]
            serve: ServeArgs,
        }
        ServeOnly::parse_from(["tenantd"]).serve
    }
}

/// The validated settings of a running server.
#[derive(Debug, Clone)]
pub struct Config {
    /// Database URL (may hold a password: log it with [`redact_url`]).
    pub database_url: String,
    /// Apply migrations at start.
    pub migrate_on_start: bool,
    /// `{slug}.{base_domain}` resolves to tenants when set.
    pub base_domain: Option<String>,
    /// DNS server for domain verification.
    pub dns_resolver: Option<SocketAddr>,
    /// How long deleted tenants are kept.
    pub purge_after: chrono::Duration,
    /// How long in-flight calls get at shutdown.
    pub shutdown_grace: Duration,
    /// Database pool settings.
    pub pool: PoolOptions,
}

impl Config {
    /// Validates `serve` settings.
    pub fn new(common: &CommonArgs, serve: &ServeArgs) -> Result<Self> {
        let base_domain = serve
            .base_domain
            .as_deref()
            .filter(|domain| !domain.is_empty())
            .map(|domain| validate::hostname(domain, "base-domain"))
            .transpose()
            .map_err(|violation| Error::InvalidArgument(vec![violation]))?;
        Ok(Self {
            database_url: common.database_url.clone(),
            migrate_on_start: !serve.no_migrate,
            base_domain,
            dns_resolver: serve.dns_resolver,
            purge_after: chrono::Duration::days(i64::from(serve.purge_after_days)),
            shutdown_grace: Duration::from_secs(serve.shutdown_grace_seconds),
            pool: PoolOptions {
                max_connections: serve.max_db_connections.max(1),
                ..PoolOptions::default()
            },
        })
    }

    /// Settings for tests and embedding: everything default but the URL.
    pub fn for_database(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            migrate_on_start: true,
            base_domain: None,
            dns_resolver: None,
            purge_after: chrono::Duration::days(30),
            shutdown_grace: Duration::from_secs(20),
            pool: PoolOptions::default(),
        }
    }
}

/// The URL with any password replaced by `***`, for logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/t"),
            "postgres://app:***@db:5432/t"
        );
        assert_eq!(redact_url("postgres://app@db/t"), "postgres://app@db/t");
        assert_eq!(redact_url(DEFAULT_DATABASE_URL), DEFAULT_DATABASE_URL);
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
