//! What the NATS sink is told by the operator, checked once at start:
//! where NATS is, which stream, which subjects.
//!
//! Invariants: the stream name and the subject prefix are valid NATS
//! names (no wildcards, no spaces, bounded), so every subject the sink
//! derives from an event type is a valid literal subject under the prefix.

use std::time::Duration;

use crate::error::{Error, Result};

/// The longest stream name or subject prefix accepted.
const MAX_NAME: usize = 128;
/// The shortest duplicate window accepted.
const MIN_WINDOW: Duration = Duration::from_secs(1);
/// The longest duplicate window accepted.
const MAX_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

/// The NATS sink's settings.
#[derive(Clone, PartialEq, Eq)]
pub struct NatsSettings {
    /// The NATS server(s), e.g. `nats://127.0.0.1:4222` (may hold
    /// credentials: never logged).
    pub url: String,
    /// The JetStream stream, created when missing.
    pub stream: String,
    /// Every subject starts with it: `{prefix}.{short type}`.
    pub subject_prefix: String,
    /// The duplicate window of a stream the sink creates.
    pub duplicate_window: Duration,
}

impl std::fmt::Debug for NatsSettings {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("NatsSettings")
            .field("url", &"<redacted>")
            .field("stream", &self.stream)
            .field("subject_prefix", &self.subject_prefix)
            .field("duplicate_window", &self.duplicate_window)
            .finish()
    }
}

impl NatsSettings {
    /// Checks the operator's values; `field` names come from the flags.
    pub fn new(
        url: String,
        stream: String,
        subject_prefix: String,
        duplicate_window: Duration,
    ) -> Result<Self> {
        if url.is_empty() || url.len() > 2048 {
            return Err(Error::invalid_field(
                "events-nats-url",
                "must be 1 to 2048 characters",
            ));
        }
        let stream_ok = !stream.is_empty()
            && stream.len() <= MAX_NAME
            && stream
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !stream_ok {
            return Err(Error::invalid_field(
                "events-nats-stream",
                "must be 1 to 128 of A-Z, a-z, 0-9, _ and -",
            ));
        }
        let prefix_ok = subject_prefix.len() <= MAX_NAME
            && subject_prefix.split('.').all(|token| {
                !token.is_empty()
                    && token
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            });
        if !prefix_ok {
            return Err(Error::invalid_field(
                "events-nats-subject-prefix",
                "must be up to 128 characters of dot-separated tokens of A-Z, a-z, 0-9, _ and -",
            ));
        }
        if !(MIN_WINDOW..=MAX_WINDOW).contains(&duplicate_window) {
            return Err(Error::invalid_field(
                "events-nats-duplicate-window",
                "must be between 1s and 7d",
            ));
        }
        Ok(Self {
            url,
            stream,
            subject_prefix,
            duplicate_window,
        })
    }

    /// The subjects the stream must capture: `{prefix}.>`.
    pub fn stream_subjects(&self) -> String {
        format!("{}.>", self.subject_prefix)
    }
}

/// The subject of an event of short type `short` under `prefix`:
/// `tenantd.events` and `tenant.created` → `tenantd.events.tenant.created`.
pub fn subject_of(prefix: &str, short: &str) -> String {
    format!("{prefix}.{short}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::outbox::short_types;

    fn settings(stream: &str, prefix: &str, window: u64) -> Result<NatsSettings> {
        NatsSettings::new(
            "nats://127.0.0.1:4222".to_owned(),
            stream.to_owned(),
            prefix.to_owned(),
            Duration::from_secs(window),
        )
    }

    #[test]
    fn names_with_wildcards_or_spaces_are_refused() {
        assert!(settings("TENANTD_EVENTS", "tenantd.events", 600).is_ok());
        for stream in ["", "a.b", "a b", "a*", "a>"] {
            assert!(settings(stream, "tenantd.events", 600).is_err(), "{stream}");
        }
        for prefix in ["", "a..b", ".a", "a.", "a.*", "a.>", "a b"] {
            assert!(settings("S", prefix, 600).is_err(), "{prefix}");
        }
        assert!(settings("S", "p", 0).is_err());
        assert!(settings("S", "p", 8 * 24 * 3600).is_err());
    }

    #[test]
    fn every_event_type_is_a_literal_subject_under_the_prefix() {
        for short in short_types() {
            let subject = subject_of("tenantd.events", short);
            assert!(subject.starts_with("tenantd.events."));
            assert!(
                subject
                    .split('.')
                    .all(|token| !token.is_empty() && !token.contains(['*', '>', ' '])),
                "{subject}"
            );
        }
        assert_eq!(
            subject_of("tenantd.events", "tenant.created"),
            "tenantd.events.tenant.created"
        );
    }
}
