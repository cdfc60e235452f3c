//! Configuration: command-line flags, each also read from a `TENANTD_*`
//! environment variable, parsed once and validated into [`Config`].

pub mod tenants;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};

pub use crate::access::named_tokens::{MIN_TOKEN_BYTES, NamedToken, parse_tokens};
use crate::common::paging::PageTokenKey;
use crate::common::validate;
use crate::error::{Error, Result};
pub use crate::settings::tenants::{
    ExportArgs, ImportArgs, MigrateArgs, PurgeArgs, TemplateArgs, TenantsCommand, load_template,
};
use crate::store::PoolOptions;

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
    /// Operator commands on tenants: purge, template rollout.
    #[command(subcommand)]
    Tenants(TenantsCommand),
}

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
    /// Operator tokens, comma-separated, each `NAME=TOKEN` (the name is what
    /// the audit log records) or a bare token. Admin callers may do
    /// everything.
    #[arg(
        long,
        env = "TENANTD_ADMIN_TOKENS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub admin_tokens: Vec<String>,
    /// Service tokens of internal microservices, as for `--admin-tokens`.
    /// Service callers act for any tenant, on data-path methods only.
    #[arg(
        long,
        env = "TENANTD_SERVICE_TOKENS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub service_tokens: Vec<String>,
    /// Seconds a resolved tenant or API key stays cached when no change
    /// notification arrives; changes invalidate it at once.
    #[arg(long, env = "TENANTD_CACHE_TTL_SECONDS", default_value_t = 60)]
    pub cache_ttl_seconds: u64,
    /// A JSON Schema file every tenant's effective configuration must
    /// satisfy, instead of the schema tenantd ships (`config/schema.json`).
    #[arg(long, env = "TENANTD_CONFIG_SCHEMA_FILE")]
    pub config_schema_file: Option<std::path::PathBuf>,
    /// Redis URL for the quota counters (`redis://HOST:6379/0`), shared by
    /// every replica. When unset, counters live in this process: fine for
    /// one replica, wrong for several.
    #[arg(long, env = "TENANTD_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// When Redis cannot be reached: `open` counts on this replica alone
    /// and marks answers `degraded`; `closed` answers UNAVAILABLE.
    #[arg(
        long,
        env = "TENANTD_REDIS_FAILURE",
        value_enum,
        default_value = "open"
    )]
    pub redis_failure: crate::quota::limiter::RedisFailure,
    /// Serve Prometheus metrics over HTTP at `IP:PORT/metrics`; off when
    /// unset.
    #[arg(long, env = "TENANTD_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// `--redis-url` is a Redis Cluster: comma-separated seed node URLs.
    #[arg(long, env = "TENANTD_REDIS_CLUSTER")]
    pub redis_cluster: bool,
    /// Milliseconds between usage aggregation runs: how far daily rollups
    /// may lag behind ingestion.
    #[arg(
        long,
        env = "TENANTD_USAGE_AGGREGATION_INTERVAL_MS",
        default_value_t = 1000
    )]
    pub usage_aggregation_interval_ms: u64,
    /// Milliseconds between pings of the database; the health service
    /// answers NOT_SERVING while they fail.
    #[arg(long, env = "TENANTD_HEALTH_PROBE_INTERVAL_MS", default_value_t = 1000)]
    pub health_probe_interval_ms: u64,
    /// Most calls of one tenant in progress at once on this replica (its
    /// bulkhead); 0 for no limit. Keep it below the database pool size so
    /// one tenant cannot hold every connection.
    #[arg(
        long,
        env = "TENANTD_TENANT_MAX_CONCURRENT_CALLS",
        default_value_t = 64
    )]
    pub tenant_max_concurrent_calls: u32,
    /// Most calls of one tenant per second on this replica, bursts of up
    /// to one second's worth absorbed; 0 for no limit.
    #[arg(long, env = "TENANTD_TENANT_RATE_LIMIT", default_value_t = 10_000)]
    pub tenant_rate_limit: u32,
    /// Retention of raw usage events.
    #[command(flatten)]
    pub retention: RetentionArgs,
    /// Seconds between runs of the provisioning reconciler and the purge
    /// job (both also run at start).
    #[arg(
        long,
        env = "TENANTD_TENANT_JOBS_INTERVAL_SECONDS",
        default_value_t = 60
    )]
    pub tenant_jobs_interval_seconds: u64,
    /// The key page tokens are signed with (HMAC-SHA256), at least 32
    /// bytes; every replica must share it. When unset, a key generated once
    /// and stored in the database is used. Changing it invalidates the
    /// tokens already issued.
    #[arg(long, env = "TENANTD_PAGE_TOKEN_KEY", hide_env_values = true, value_parser = PageTokenKey::parse)]
    pub page_token_key: Option<PageTokenKey>,
    /// How long a PENDING domain claim may be verified, e.g. `7d` or `36h`;
    /// then it expires and no longer holds the hostname.
    #[arg(long, env = "TENANTD_DOMAIN_CLAIM_TTL", default_value = "7d", value_parser = humantime::parse_duration)]
    pub domain_claim_ttl: Duration,
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

/// How often the last use of API keys is written, by default.
pub const DEFAULT_KEY_USE_FLUSH: Duration = Duration::from_secs(10);

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
    /// Database URL migrations run with (the table owner's).
    pub migration_database_url: String,
    /// Operator tokens.
    pub admin_tokens: Vec<NamedToken>,
    /// Service tokens.
    pub service_tokens: Vec<NamedToken>,
    /// How long resolutions stay cached without a change notification.
    pub cache_ttl: Duration,
    /// The operator's configuration schema; the shipped one when `None`.
    pub config_schema_file: Option<std::path::PathBuf>,
    /// How often the last use of API keys is written.
    pub key_use_flush_interval: Duration,
    /// Redis for the quota counters; in-process counters when `None`.
    pub redis_url: Option<String>,
    /// What quota checks answer when Redis cannot be reached.
    pub redis_failure: crate::quota::limiter::RedisFailure,
    /// Whether `redis_url` lists the seed nodes of a Redis Cluster.
    pub redis_cluster: bool,
    /// How often usage events are folded into the daily rollups.
    pub usage_aggregation_interval: Duration,
    /// How often the health service's database probe runs.
    pub health_probe_interval: Duration,
    /// Each tenant's share of a replica.
    pub tenant_budget: crate::settings::BudgetSettings,
    /// How long raw usage events are kept after their day is final.
    pub usage_event_retention: chrono::Duration,
    /// The operator's tenant template directory; the embedded one when
    /// `None`.
    pub tenant_template_dir: Option<PathBuf>,
    /// How often the provisioning reconciler and the purge job run.
    pub tenant_jobs_interval: Duration,
    /// For tests only, never set from flags or the environment: SCHEMA
    /// provisioning stops after this step as if the process were killed
    /// there, leaving the tenant PROVISIONING for the reconciler.
    pub provisioning_fault: Option<crate::tenancy::provisioning::Step>,
    /// For tests only, never set from flags or the environment: the
    /// in-process limiter panics, holding its lock, on this tenant's
    /// batches, as a bug in one tenant's path would.
    pub limiter_fault: Option<crate::common::ids::TenantId>,
    /// The page-token key; the one stored in the database when `None`.
    pub page_token_key: Option<PageTokenKey>,
    /// How long a PENDING domain claim lasts.
    pub domain_claim_ttl: chrono::Duration,
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
        let admin_tokens = parse_tokens(&serve.admin_tokens, "admin-tokens")?;
        let service_tokens = parse_tokens(&serve.service_tokens, "service-tokens")?;
        if admin_tokens.iter().any(|admin| {
            service_tokens
                .iter()
                .any(|service| service.token == admin.token)
        }) {
            return Err(Error::invalid_field(
                "service-tokens",
                "a token cannot be both an admin and a service token",
            ));
        }
        Ok(Self {
            database_url: common.database_url.clone(),
            migration_database_url: common
                .migration_database_url
                .clone()
                .filter(|url| !url.is_empty())
                .unwrap_or_else(|| common.database_url.clone()),
            admin_tokens,
            service_tokens,
            cache_ttl: Duration::from_secs(serve.cache_ttl_seconds.max(1)),
            config_schema_file: serve.config_schema_file.clone(),
            key_use_flush_interval: DEFAULT_KEY_USE_FLUSH,
            redis_url: serve.redis_url.clone().filter(|url| !url.is_empty()),
            redis_failure: serve.redis_failure,
            redis_cluster: serve.redis_cluster,
            usage_aggregation_interval: Duration::from_millis(
                serve.usage_aggregation_interval_ms.max(1),
            ),
            health_probe_interval: Duration::from_millis(serve.health_probe_interval_ms.max(10)),
            tenant_budget: crate::settings::BudgetSettings {
                max_concurrent_calls: serve.tenant_max_concurrent_calls,
                rate_per_second: serve.tenant_rate_limit,
            },
            usage_event_retention: chrono::Duration::days(i64::from(
                serve.retention.usage_event_retention_days,
            )),
            migrate_on_start: !serve.no_migrate,
            tenant_template_dir: common.template.tenant_template_dir.clone(),
            tenant_jobs_interval: Duration::from_secs(serve.tenant_jobs_interval_seconds.max(1)),
            provisioning_fault: None,
            limiter_fault: None,
            page_token_key: serve.page_token_key.clone(),
            domain_claim_ttl: chrono::Duration::from_std(serve.domain_claim_ttl)
                .map_err(|_| Error::invalid_field("domain-claim-ttl", "is too long"))?,
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
        let database_url = database_url.into();
        Self {
            migration_database_url: database_url.clone(),
            database_url,
            admin_tokens: Vec::new(),
            service_tokens: Vec::new(),
            cache_ttl: Duration::from_secs(60),
            config_schema_file: None,
            key_use_flush_interval: DEFAULT_KEY_USE_FLUSH,
            redis_url: None,
            redis_failure: crate::quota::limiter::RedisFailure::Open,
            redis_cluster: false,
            usage_aggregation_interval: Duration::from_secs(1),
            health_probe_interval: Duration::from_secs(1),
            tenant_budget: crate::settings::BudgetSettings::default(),
            usage_event_retention: chrono::Duration::days(35),
            migrate_on_start: true,
            tenant_template_dir: None,
            tenant_jobs_interval: Duration::from_secs(60),
            provisioning_fault: None,
            limiter_fault: None,
            page_token_key: None,
            domain_claim_ttl: chrono::Duration::days(7),
            base_domain: None,
            dns_resolver: None,
            purge_after: chrono::Duration::days(30),
            shutdown_grace: Duration::from_secs(20),
            pool: PoolOptions::default(),
        }
    }
}

/// Query parameters whose values are secrets, compared without case:
/// libpq's `password`, and the names other drivers use for tokens and keys.
const SECRET_QUERY_PARAMETERS: [&str; 5] = ["password", "pass", "pwd", "token", "secret"];

/// The URL with its password and any secret query parameter replaced by
/// `***`, for logs. Parsed with the `url` crate, so the userinfo ends at the
/// last `@` as in every driver; a URL that does not parse is not shown at
/// all, since nothing says where its secrets are.
pub fn redact_url(raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw) else {
        return "<a URL that does not parse>".to_owned();
    };
    if url.password().is_some() {
        // Fails only for URLs that cannot carry a password, so had none.
        let _ = url.set_password(Some("***"));
    }
    let is_secret = |key: &str| {
        SECRET_QUERY_PARAMETERS
            .iter()
            .any(|secret| key.eq_ignore_ascii_case(secret))
    };
    if url.query_pairs().any(|(key, _)| is_secret(&key)) {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(key, value)| {
                let value = if is_secret(&key) { "***".into() } else { value };
                (key.into_owned(), value.into_owned())
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.into()
}

/// The budget of every tenant on this replica.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BudgetSettings {
    /// Most calls of one tenant in handlers at once; 0 for no limit.
    pub max_concurrent_calls: u32,
    /// Most calls of one tenant per second, on average; 0 for no limit.
    pub rate_per_second: u32,
}

impl Default for BudgetSettings {
    fn default() -> Self {
        Self {
            max_concurrent_calls: 64,
            rate_per_second: 10_000,
        }
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
    fn claim_ttls_and_page_token_keys_are_parsed() {
        let common = Cli::parse_from(["tenantd"]).common;
        let defaults = Config::new(&common, &ServeArgs::from_env()).expect("defaults");
        assert_eq!(defaults.domain_claim_ttl, chrono::Duration::days(7));
        assert!(defaults.page_token_key.is_none());
        let key = "k".repeat(32);
        let cli = Cli::parse_from([
            "tenantd",
            "serve",
            "--domain-claim-ttl",
            "36h",
            "--page-token-key",
            &key,
        ]);
        let Some(Command::Serve(serve)) = cli.command else {
            panic!("serve");
        };
        let config = Config::new(&cli.common, &serve).expect("valid");
        assert_eq!(config.domain_claim_ttl, chrono::Duration::hours(36));
        assert_eq!(
            config.page_token_key.map(|key| key.as_bytes().len()),
            Some(32)
        );
        assert!(
            !format!("{serve:?}").contains(&key),
            "the key is never shown"
        );
        let short = Cli::try_parse_from(["tenantd", "serve", "--page-token-key", "short"]);
        assert!(short.is_err());
    }

    #[test]
    fn passwords_holding_at_signs_and_query_passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:p@ss@host/db"),
            "postgres://u:***@host/db"
        );
        assert_eq!(
            redact_url("postgres://app@db/t?sslmode=require&password=s3cret"),
            "postgres://app@db/t?sslmode=require&password=***"
        );
        assert_eq!(
            redact_url("postgres://app:a@b@db/t?PASSWORD=x%40y&user=app"),
            "postgres://app:***@db/t?PASSWORD=***&user=app"
        );
        let unparsed = redact_url("postgres://app:s3cret@[bad");
        assert!(!unparsed.contains("s3cret"), "{unparsed}");
    }

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
