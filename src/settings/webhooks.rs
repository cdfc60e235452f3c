//! Flags of webhook delivery (`serve`): where endpoints may point, how
//! long and how often deliveries are retried, and the worker's leases and
//! concurrency. Validated once into [`WebhookSettings`].

use std::time::Duration;

use clap::Args;

use crate::error::{Error, Result};
use crate::events::WebhookSettings;
use crate::events::webhooks::ssrf::TargetPolicy;

/// The longest retry window: events are kept 7 days.
pub const MAX_RETRY_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);
/// The longest attempt.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);

/// Webhook delivery settings.
#[derive(Debug, Clone, Args)]
pub struct WebhookArgs {
    /// Let webhook endpoints point at any address, private, loopback and
    /// link-local (cloud metadata) ones included. For development only.
    #[arg(long, env = "TENANTD_WEBHOOK_ALLOW_PRIVATE_TARGETS")]
    pub webhook_allow_private_targets: bool,
    /// Non-public ranges webhook endpoints may point at all the same,
    /// comma-separated CIDRs (e.g. `10.20.0.0/16`).
    #[arg(long, env = "TENANTD_WEBHOOK_ALLOWED_CIDRS", value_delimiter = ',')]
    pub webhook_allowed_cidrs: Vec<ipnet::IpNet>,
    /// How long a failing delivery is retried before it is dead-lettered,
    /// e.g. `24h`; at most `7d` (how long events are kept).
    #[arg(long, env = "TENANTD_WEBHOOK_RETRY_WINDOW", default_value = "24h", value_parser = humantime::parse_duration)]
    pub webhook_retry_window: Duration,
    /// The delay after a delivery's first failure; each next one doubles
    /// (less up to a quarter of jitter).
    #[arg(long, env = "TENANTD_WEBHOOK_BACKOFF_BASE", default_value = "5s", value_parser = humantime::parse_duration)]
    pub webhook_backoff_base: Duration,
    /// The longest delay between two attempts of a delivery.
    #[arg(long, env = "TENANTD_WEBHOOK_BACKOFF_MAX", default_value = "1h", value_parser = humantime::parse_duration)]
    pub webhook_backoff_max: Duration,
    /// How long one delivery attempt may take; at most `1m`.
    #[arg(long, env = "TENANTD_WEBHOOK_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub webhook_timeout: Duration,
    /// How long a replica's claim on an endpoint lasts unrenewed: how soon
    /// another replica takes over from one that died. More than twice
    /// `--webhook-timeout`.
    #[arg(long, env = "TENANTD_WEBHOOK_LEASE", default_value = "30s", value_parser = humantime::parse_duration)]
    pub webhook_lease: Duration,
    /// How often the delivery worker looks for new events and due retries.
    #[arg(long, env = "TENANTD_WEBHOOK_POLL_INTERVAL", default_value = "1s", value_parser = humantime::parse_duration)]
    pub webhook_poll_interval: Duration,
    /// Most endpoints one replica delivers to at once, up to 1024; 0 for a
    /// replica that delivers no webhooks (others must).
    #[arg(long, env = "TENANTD_WEBHOOK_CONCURRENCY", default_value_t = 32)]
    pub webhook_concurrency: usize,
}

fn refuse(flag: &str, message: &str) -> Error {
    Error::invalid_field(flag, message)
}

impl WebhookArgs {
    /// The settings, each checked.
    pub fn settings(&self) -> Result<WebhookSettings> {
        if self.webhook_retry_window.is_zero() || self.webhook_retry_window > MAX_RETRY_WINDOW {
            return Err(refuse(
                "webhook-retry-window",
                "must be above 0 and at most 7d",
            ));
        }
        if self.webhook_backoff_base.is_zero()
            || self.webhook_backoff_base > self.webhook_backoff_max
        {
            return Err(refuse(
                "webhook-backoff-base",
                "must be above 0 and at most --webhook-backoff-max",
            ));
        }
        if self.webhook_timeout.is_zero() || self.webhook_timeout > MAX_TIMEOUT {
            return Err(refuse("webhook-timeout", "must be above 0 and at most 1m"));
        }
        if self.webhook_lease <= self.webhook_timeout.saturating_mul(2) {
            return Err(refuse(
                "webhook-lease",
                "must be more than twice --webhook-timeout",
            ));
        }
        if self.webhook_poll_interval < Duration::from_millis(10)
            || self.webhook_poll_interval > Duration::from_secs(60)
        {
            return Err(refuse(
                "webhook-poll-interval",
                "must be between 10ms and 1m",
            ));
        }
        if self.webhook_concurrency > 1024 {
            return Err(refuse("webhook-concurrency", "must be at most 1024"));
        }
        Ok(WebhookSettings {
            policy: TargetPolicy {
                allow_private: self.webhook_allow_private_targets,
                allowed: self.webhook_allowed_cidrs.clone(),
            },
            retry_window: self.webhook_retry_window,
            backoff_base: self.webhook_backoff_base,
            backoff_max: self.webhook_backoff_max,
            timeout: self.webhook_timeout,
            lease: self.webhook_lease,
            poll_interval: self.webhook_poll_interval,
            concurrency: self.webhook_concurrency,
        })
    }
}
