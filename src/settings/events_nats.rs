//! Flags of the NATS JetStream event sink (`serve`): off unless
//! `--events-nats-url` is given.

use std::time::Duration;

use clap::Args;

use crate::error::Result;
use crate::events::nats::NatsSettings;

/// Where and how lifecycle events are published to NATS JetStream.
#[derive(Debug, Clone, Args)]
pub struct EventsNatsArgs {
    /// Publish every lifecycle event to NATS JetStream at this URL
    /// (`nats://HOST:4222`, comma-separated for several servers); off when
    /// unset.
    #[arg(long, env = "TENANTD_EVENTS_NATS_URL", hide_env_values = true)]
    pub events_nats_url: Option<String>,
    /// The JetStream stream the events go to; created, capturing
    /// `{subject prefix}.>`, when missing.
    #[arg(
        long,
        env = "TENANTD_EVENTS_NATS_STREAM",
        default_value = "TENANTD_EVENTS"
    )]
    pub events_nats_stream: String,
    /// Subjects are `{prefix}.{type}`, e.g. `tenantd.events.tenant.created`.
    #[arg(
        long,
        env = "TENANTD_EVENTS_NATS_SUBJECT_PREFIX",
        default_value = "tenantd.events"
    )]
    pub events_nats_subject_prefix: String,
    /// The duplicate window of a stream tenantd creates (how long the
    /// stream drops a re-published event by its `Nats-Msg-Id`), e.g.
    /// `10m`; between 1s and 7d.
    #[arg(long, env = "TENANTD_EVENTS_NATS_DUPLICATE_WINDOW", default_value = "10m", value_parser = humantime::parse_duration)]
    pub events_nats_duplicate_window: Duration,
}

impl EventsNatsArgs {
    /// The sink's checked settings; `None` when it is off.
    pub fn settings(&self) -> Result<Option<NatsSettings>> {
        let Some(url) = self
            .events_nats_url
            .clone()
            .filter(|url| !url.trim().is_empty())
        else {
            return Ok(None);
        };
        NatsSettings::new(
            url,
            self.events_nats_stream.clone(),
            self.events_nats_subject_prefix.clone(),
            self.events_nats_duplicate_window,
        )
        .map(Some)
    }
}
