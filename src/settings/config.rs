//! The validated settings of a running server: [`Config`], made from the
//! flags by [`Config::new`] or for tests by [`Config::for_database`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::access::named_tokens::{NamedToken, parse_tokens};
use crate::common::paging::PageTokenKey;
use crate::common::validate;
use crate::error::{Error, Result};
use crate::settings::{
    BudgetArgs, CommonArgs, ConnectionSettings, MetricsSettings, ServeArgs, TlsSettings,
};
use crate::store::PoolOptions;

/// How often the last use of API keys is written, by default.
pub const DEFAULT_KEY_USE_FLUSH: Duration = Duration::from_secs(10);
/// How often per-tenant call counts are written, by default.
pub const DEFAULT_TENANT_HEALTH_FLUSH: Duration = Duration::from_secs(10);
/// The longest flush interval: each tenant keeps a few minutes in memory
/// (`slo::call_log::MINUTES_KEPT`), so a longer one would lose counts.
pub const MAX_TENANT_HEALTH_FLUSH: Duration = Duration::from_secs(60);

/// The validated settings of a running server.
#[derive(Debug, Clone)]
pub struct Config {
    /// Database URL (may hold a password: log it with [`redact_url`](crate::settings::redact_url)).
    pub database_url: String,
    /// Apply migrations at start.
    pub migrate_on_start: bool,
    /// `{slug}.{base_domain}` resolves to tenants when set.
    pub base_domain: Option<String>,
    /// DNS server for domain verification.
    pub dns_resolver: Option<SocketAddr>,
    /// Proxies whose `x-forwarded-for` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Issuers of end users' JWTs.
    pub jwt_issuers: Vec<crate::access::jwt::IssuerConfig>,
    /// How long deleted tenants are kept.
    pub purge_after: chrono::Duration,
    /// How long in-flight calls get at shutdown.
    pub shutdown_grace: Duration,
    /// How long new calls are still accepted after the shutdown signal.
    pub drain_delay: Duration,
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
    /// How often per-tenant call counts are written.
    pub tenant_health_flush_interval: Duration,
    /// Each tenant's share of a replica.
    pub tenant_budget: BudgetSettings,
    /// What Envoy ext_authz answers hold.
    pub ext_authz: crate::access::ext_authz::ExtAuthzSettings,
    /// How webhooks are delivered.
    pub webhooks: crate::events::WebhookSettings,
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
    /// TLS on the gRPC port; plaintext when `None`.
    pub tls: Option<TlsSettings>,
    /// Where health alone is also served, in plaintext.
    pub health_listen_addr: Option<SocketAddr>,
    /// The metrics port and its per-tenant labels.
    pub metrics: MetricsSettings,
    /// How client connections age and are checked.
    pub connections: ConnectionSettings,
    /// Lifecycle events.
    pub events: crate::settings::events::EventSettings,
    /// The NATS JetStream event sink; off when `None`.
    pub events_nats: Option<crate::events::nats::NatsSettings>,
}

impl Config {
    /// Validates `serve` settings.
    pub fn new(common: &CommonArgs, serve: &ServeArgs) -> Result<Self> {
        let (admin_tokens, service_tokens) = operator_tokens(serve)?;
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
            tenant_health_flush_interval: tenant_health_flush(serve)?,
            tenant_budget: BudgetSettings::from(&serve.budget),
            ext_authz: serve.ext_authz.settings()?,
            events_nats: serve.events_nats.settings()?,
            webhooks: serve.webhooks.settings()?,
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
            base_domain: base_domain(serve)?,
            dns_resolver: serve.dns_resolver,
            trusted_proxies: serve.trusted_proxies.clone(),
            jwt_issuers: jwt_issuers(serve)?,
            tls: TlsSettings::from_args(&serve.tls)?,
            health_listen_addr: serve.health_listen_addr,
            metrics: serve.observe.metrics(),
            connections: serve.observe.connections(),
            events: serve.events.settings()?,
            purge_after: chrono::Duration::days(i64::from(serve.purge_after_days)),
            shutdown_grace: Duration::from_secs(serve.shutdown_grace_seconds),
            drain_delay: Duration::from_secs(serve.drain_delay_seconds),
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
            tenant_health_flush_interval: DEFAULT_TENANT_HEALTH_FLUSH,
            tenant_budget: BudgetSettings::default(),
            ext_authz: crate::access::ext_authz::ExtAuthzSettings::default(),
            events_nats: None,
            webhooks: crate::events::WebhookSettings::default(),
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
            trusted_proxies: Vec::new(),
            jwt_issuers: Vec::new(),
            tls: None,
            health_listen_addr: None,
            metrics: MetricsSettings::default(),
            connections: ConnectionSettings::default(),
            events: crate::settings::events::EventSettings::default(),
            purge_after: chrono::Duration::days(30),
            shutdown_grace: Duration::from_secs(20),
            drain_delay: Duration::ZERO,
            pool: PoolOptions::default(),
        }
    }
}

/// `--tenant-health-flush-interval`: above zero, at most
/// [`MAX_TENANT_HEALTH_FLUSH`].
fn tenant_health_flush(serve: &ServeArgs) -> Result<Duration> {
    let interval = serve.tenant_health_flush_interval;
    if interval.is_zero() || interval > MAX_TENANT_HEALTH_FLUSH {
        return Err(Error::invalid_field(
            "tenant-health-flush-interval",
            "must be above 0 and at most 1m",
        ));
    }
    Ok(interval)
}

/// The JWT issuers of `--jwt-issuers-file`, none without it.
fn jwt_issuers(serve: &ServeArgs) -> Result<Vec<crate::access::jwt::IssuerConfig>> {
    let Some(path) = &serve.jwt_issuers_file else {
        return Ok(Vec::new());
    };
    let refused = |what: String| {
        Error::invalid_field("jwt-issuers-file", format!("{}: {what}", path.display()))
    };
    let text = std::fs::read_to_string(path).map_err(|error| refused(error.to_string()))?;
    serde_json::from_str(&text).map_err(|error| refused(error.to_string()))
}

/// The base domain, a valid hostname, or `None` when unset or empty.
fn base_domain(serve: &ServeArgs) -> Result<Option<String>> {
    serve
        .base_domain
        .as_deref()
        .filter(|domain| !domain.is_empty())
        .map(|domain| validate::hostname(domain, "base-domain"))
        .transpose()
        .map_err(|violation| Error::InvalidArgument(vec![violation]))
}

/// The admin and the service tokens, parsed; no token may be both, since
/// the gate could not tell which powers its caller has.
fn operator_tokens(serve: &ServeArgs) -> Result<(Vec<NamedToken>, Vec<NamedToken>)> {
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
    Ok((admin_tokens, service_tokens))
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

impl From<&BudgetArgs> for BudgetSettings {
    fn from(args: &BudgetArgs) -> Self {
        Self {
            max_concurrent_calls: args.tenant_max_concurrent_calls,
            rate_per_second: args.tenant_rate_limit,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::settings::{Cli, Command};

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
        assert_eq!(config.tenant_health_flush_interval, Duration::from_secs(10));
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
    fn the_tenant_health_flush_interval_is_bounded() {
        let flush = |interval: &str| {
            let cli = Cli::parse_from([
                "tenantd",
                "serve",
                "--tenant-health-flush-interval",
                interval,
            ]);
            let Some(Command::Serve(serve)) = cli.command else {
                panic!("serve");
            };
            Config::new(&cli.common, &serve).map(|config| config.tenant_health_flush_interval)
        };
        assert_eq!(flush("250ms").ok(), Some(Duration::from_millis(250)));
        assert_eq!(flush("1m").ok(), Some(Duration::from_secs(60)));
        assert!(flush("0s").is_err());
        assert!(flush("2m").is_err());
    }
}
