//! `serve`'s flags for what operators watch and how connections age: the
//! metrics port and its tenant labels, and the HTTP/2 connection limits
//! that let clients rebalance across replicas.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;

/// The metrics and connection flags of `serve`.
#[derive(Debug, Clone, Args)]
pub struct ObserveArgs {
    /// Serve Prometheus metrics over HTTP at `IP:PORT/metrics`; off when
    /// unset.
    #[arg(long, env = "TENANTD_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// How many tenants keep their own `tenant` label in the per-tenant
    /// metrics: the busiest by recent traffic; every other tenant counts
    /// as `other`.
    #[arg(long, env = "TENANTD_METRICS_TENANT_LABELS", default_value_t = 100)]
    pub metrics_tenant_labels: usize,
    /// Seconds between rankings of tenants by traffic for those labels.
    #[arg(
        long,
        env = "TENANTD_METRICS_TENANT_RANKING_SECONDS",
        default_value_t = 60
    )]
    pub metrics_tenant_ranking_seconds: u64,
    /// Seconds a client connection may live before the server asks it to
    /// reconnect (HTTP/2 GOAWAY), so clients spread over new replicas;
    /// 0 keeps connections for ever.
    #[arg(long, env = "TENANTD_MAX_CONNECTION_AGE_SECONDS", default_value_t = 0)]
    pub max_connection_age_seconds: u64,
    /// Seconds calls still in flight on an aged connection get to finish
    /// before it is closed.
    #[arg(
        long,
        env = "TENANTD_MAX_CONNECTION_AGE_GRACE_SECONDS",
        default_value_t = 30
    )]
    pub max_connection_age_grace_seconds: u64,
    /// Seconds between HTTP/2 pings on an idle connection, so dead peers
    /// (and idle timeouts of load balancers) are found; 0 sends none.
    #[arg(long, env = "TENANTD_HTTP2_KEEPALIVE_SECONDS", default_value_t = 0)]
    pub http2_keepalive_seconds: u64,
    /// Seconds to wait for a ping's answer before closing the connection.
    #[arg(
        long,
        env = "TENANTD_HTTP2_KEEPALIVE_TIMEOUT_SECONDS",
        default_value_t = 20
    )]
    pub http2_keepalive_timeout_seconds: u64,
}

/// The validated metrics settings.
#[derive(Debug, Clone)]
pub struct MetricsSettings {
    /// Where `/metrics` is served; nowhere when `None`.
    pub addr: Option<SocketAddr>,
    /// How many tenants keep their own label.
    pub tenant_labels: usize,
    /// How often tenants are ranked for those labels.
    pub tenant_ranking_interval: Duration,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self {
            addr: None,
            tenant_labels: 100,
            tenant_ranking_interval: Duration::from_secs(60),
        }
    }
}

/// How the server ages and checks client connections.
#[derive(Debug, Clone, Default)]
pub struct ConnectionSettings {
    /// Longest life of a connection; unlimited when `None`.
    pub max_age: Option<Duration>,
    /// How long in-flight calls get once a connection aged.
    pub max_age_grace: Duration,
    /// Interval of HTTP/2 keepalive pings; none when `None`.
    pub keepalive_interval: Option<Duration>,
    /// How long a ping may go unanswered.
    pub keepalive_timeout: Duration,
}

impl ObserveArgs {
    /// The metrics settings.
    pub fn metrics(&self) -> MetricsSettings {
        MetricsSettings {
            addr: self.metrics_addr,
            tenant_labels: self.metrics_tenant_labels,
            tenant_ranking_interval: Duration::from_secs(
                self.metrics_tenant_ranking_seconds.max(1),
            ),
        }
    }

    /// The connection settings.
    pub fn connections(&self) -> ConnectionSettings {
        let positive = |seconds: u64| (seconds > 0).then(|| Duration::from_secs(seconds));
        ConnectionSettings {
            max_age: positive(self.max_connection_age_seconds),
            max_age_grace: Duration::from_secs(self.max_connection_age_grace_seconds),
            keepalive_interval: positive(self.http2_keepalive_seconds),
            keepalive_timeout: Duration::from_secs(self.http2_keepalive_timeout_seconds.max(1)),
        }
    }
}
