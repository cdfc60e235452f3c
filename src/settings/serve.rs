//! Flags of `tenantd serve`, each also read from a `TENANTD_*` environment
//! variable; [`Config::new`](crate::settings::Config::new) validates them.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser};

use crate::common::paging::PageTokenKey;
use crate::settings::ext_authz::ExtAuthzArgs;
use crate::settings::tls::TlsArgs;
use crate::settings::usage::RetentionArgs;

/// Settings of `serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "TENANTD_LISTEN_ADDR", default_value = "0.0.0.0:50051")]
    pub listen_addr: SocketAddr,
    /// Also serve only `grpc.health.v1.Health`, in plaintext, on this
    /// address: for probes that cannot speak TLS or present a client
    /// certificate.
    #[arg(long, env = "TENANTD_HEALTH_LISTEN_ADDR")]
    pub health_listen_addr: Option<SocketAddr>,
    /// TLS and mutual TLS on the gRPC port.
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Do not apply migrations at start (when a migration job does); refuse
    /// to start while any are pending.
    #[arg(long, env = "TENANTD_NO_MIGRATE")]
    pub no_migrate: bool,
    /// Tenants are also reached at `{slug}.{base domain}`.
    #[arg(long, env = "TENANTD_BASE_DOMAIN")]
    pub base_domain: Option<String>,
    /// Proxies whose `x-forwarded-for` is believed, as CIDR ranges,
    /// comma-separated (`10.0.0.0/8,2001:db8::/32`): a call from one of
    /// them comes from the address they forwarded. Tenants' allowed source
    /// ranges are checked against that address.
    #[arg(long, env = "TENANTD_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// A JSON file listing the OIDC issuers whose end-user JWTs are
    /// accepted, with their JWKS URLs, audiences, algorithms and claim
    /// mapping (README, "End users").
    #[arg(long, env = "TENANTD_JWT_ISSUERS_FILE")]
    pub jwt_issuers_file: Option<std::path::PathBuf>,
    /// DNS server (`IP:PORT`) for domain verification; the system's when unset.
    #[arg(long, env = "TENANTD_DNS_RESOLVER")]
    pub dns_resolver: Option<SocketAddr>,
    /// Days a deleted tenant is kept before it is purged.
    #[arg(long, env = "TENANTD_PURGE_AFTER_DAYS", default_value_t = 30)]
    pub purge_after_days: u32,
    /// Seconds in-flight calls get to finish after SIGTERM or Ctrl-C.
    #[arg(long, env = "TENANTD_SHUTDOWN_GRACE_SECONDS", default_value_t = 20)]
    pub shutdown_grace_seconds: u64,
    /// Seconds the server keeps accepting calls after SIGTERM or Ctrl-C,
    /// already NOT_SERVING on the health service, so load balancers stop
    /// routing here before it stops listening (a preStop delay without a
    /// shell or a `sleep` action).
    #[arg(long, env = "TENANTD_DRAIN_DELAY_SECONDS", default_value_t = 0)]
    pub drain_delay_seconds: u64,
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
    /// The metrics port and connection ageing.
    #[command(flatten)]
    pub observe: crate::settings::observe::ObserveArgs,
    /// Lifecycle events.
    #[command(flatten)]
    pub events: crate::settings::events::EventsArgs,
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
    /// How often this replica writes its per-tenant call counts (what
    /// GetTenantHealth sums across replicas), e.g. `10s`; at most `1m`.
    /// Also written at shutdown.
    #[arg(long, env = "TENANTD_TENANT_HEALTH_FLUSH_INTERVAL", default_value = "10s", value_parser = humantime::parse_duration)]
    pub tenant_health_flush_interval: Duration,
    /// Each tenant's share of this replica.
    #[command(flatten)]
    pub budget: BudgetArgs,
    /// Retention of raw usage events.
    #[command(flatten)]
    pub retention: RetentionArgs,
    /// What Envoy ext_authz answers put on the requests they let through.
    #[command(flatten)]
    pub ext_authz: ExtAuthzArgs,
    /// The NATS JetStream event sink.
    #[command(flatten)]
    pub events_nats: crate::settings::events_nats::EventsNatsArgs,
    /// Webhook delivery: targets, retries, leases.
    #[command(flatten)]
    pub webhooks: crate::settings::webhooks::WebhookArgs,
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

/// Each tenant's share of a replica: its bulkhead and its call rate.
#[derive(Debug, Clone, Args)]
pub struct BudgetArgs {
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
}
