//! Flags of lifecycle events: how long the event log is kept (`serve`),
//! and `tenantd events tail`.

use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};

use crate::error::{Error, Result};

/// Event settings of `serve`.
#[derive(Debug, Clone, Args)]
pub struct EventsArgs {
    /// How long lifecycle events are kept for WatchEvents to resume from
    /// (and for sinks that fell behind), e.g. `7d`; at least 1s.
    #[arg(long, env = "TENANTD_EVENTS_RETENTION", default_value = "7d", value_parser = humantime::parse_duration)]
    pub events_retention: Duration,
}

/// Event settings, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventSettings {
    /// How long events are kept.
    pub retention: chrono::Duration,
}

impl Default for EventSettings {
    fn default() -> Self {
        Self {
            retention: chrono::Duration::days(7),
        }
    }
}

impl EventsArgs {
    /// The settings, or INVALID_ARGUMENT naming the flag.
    pub fn settings(&self) -> Result<EventSettings> {
        if self.events_retention < Duration::from_secs(1) {
            return Err(Error::invalid_field(
                "events-retention",
                "must be at least 1s",
            ));
        }
        let retention = chrono::Duration::from_std(self.events_retention)
            .map_err(|_| Error::invalid_field("events-retention", "is too long"))?;
        Ok(EventSettings { retention })
    }
}

/// `tenantd events …`: operator commands on lifecycle events.
#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Print lifecycle events as they commit, one per line, read from the
    /// database: those after `--after` first, then each new one.
    Tail(TailArgs),
}

/// How `tenantd events tail` prints events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TailFormat {
    /// Aligned columns: sequence, time, type, subject, resource.
    Text,
    /// One CloudEvent per line, in the structured JSON format.
    Json,
}

/// Settings of `tenantd events tail`.
#[derive(Debug, Clone, Args)]
pub struct TailArgs {
    /// Only events of this type, short (`tenant.created`) or full
    /// (`dev.tenantd.tenant.created.v1`); repeatable.
    #[arg(long = "type", value_name = "TYPE")]
    pub types: Vec<String>,
    /// Only this tenant's events, as a UUID or `tenants/{id}`; repeatable.
    #[arg(long = "tenant", value_name = "TENANT")]
    pub tenants: Vec<String>,
    /// Start after this sequence (0 for every event kept); when unset,
    /// with the next event committed.
    #[arg(long, value_name = "SEQUENCE")]
    pub after: Option<i64>,
    /// Exit after printing this many events; 0 follows until interrupted.
    #[arg(long, default_value_t = 0)]
    pub limit: u64,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: TailFormat,
}
