//! One HTTP attempt: the event as CloudEvents structured JSON, signed as
//! Standard Webhooks asks, posted without following redirects, through a
//! client whose every connection goes to an address the target policy
//! admits.
//!
//! Invariants: the secret is used to sign and never put in a log or an
//! error; the answer's body is not read (a slow or huge body cannot hold
//! the worker); a proxy from the environment is never used, so the
//! address checked is the address connected to.

use std::time::{Duration, Instant};

use chrono::Utc;
use reqwest::Url;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use url::Host;

use crate::error::{Error, Result};
use crate::events::cloud;
use crate::events::webhooks::signing::SigningSecret;
use crate::events::webhooks::ssrf::TargetPolicy;
use crate::store::outbox::OutboxEvent;

/// The media type of every delivery's body.
pub const CONTENT_TYPE_CLOUDEVENTS: &str = "application/cloudevents+json";
/// The longest error text kept of an attempt.
const MAX_ERROR_CHARS: usize = 500;

/// What one attempt got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The HTTP status, if one was answered.
    pub status: Option<u16>,
    /// Why it failed; `None` for a 2xx.
    pub error: Option<String>,
    /// How long it took.
    pub duration: Duration,
}

/// Posts events.
#[derive(Debug, Clone)]
pub struct Sender {
    /// The HTTP client: no redirects, no proxy, checked resolution.
    client: reqwest::Client,
    /// Where posts may go.
    policy: TargetPolicy,
}

impl Sender {
    /// A sender under `policy`, each attempt cut off after `timeout`.
    pub fn new(policy: TargetPolicy, timeout: Duration) -> Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout)
            .dns_resolver(policy.clone().resolver())
            .user_agent(concat!("tenantd-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(Error::internal)?;
        Ok(Self { client, policy })
    }

    /// Posts `event` to `url`, signed with `secret`.
    pub async fn send(&self, url: &str, secret: &SigningSecret, event: &OutboxEvent) -> Sent {
        let started = Instant::now();
        let outcome = self.try_send(url, secret, event).await;
        let duration = started.elapsed();
        match outcome {
            Ok(status) if (200..300).contains(&status) => Sent {
                status: Some(status),
                error: None,
                duration,
            },
            Ok(status) => Sent {
                status: Some(status),
                error: Some(format!("answered HTTP {status}")),
                duration,
            },
            Err(error) => Sent {
                status: None,
                error: Some(clip(&error)),
                duration,
            },
        }
    }

    async fn try_send(
        &self,
        url: &str,
        secret: &SigningSecret,
        event: &OutboxEvent,
    ) -> std::result::Result<u16, String> {
        let target =
            Url::parse(url).map_err(|error| format!("the URL no longer parses: {error}"))?;
        // Names are checked by the client's resolver; literal addresses
        // never reach it, so they are checked here.
        let literal = match target.host() {
            Some(Host::Ipv4(address)) => Some(std::net::IpAddr::V4(address)),
            Some(Host::Ipv6(address)) => Some(std::net::IpAddr::V6(address)),
            _ => None,
        };
        if let Some(address) = literal {
            self.policy
                .check(address, "url")
                .map_err(|error| error.to_string())?;
        }
        let body = serde_json::to_vec(&cloud::to_json(event)).map_err(|error| error.to_string())?;
        let id = event.id.to_string();
        let timestamp = Utc::now().timestamp();
        let signature = secret
            .sign(&id, timestamp, &body)
            .map_err(|error| error.to_string())?;
        let answer = self
            .client
            .post(target)
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static(CONTENT_TYPE_CLOUDEVENTS),
            )
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|error| describe(&error))?;
        Ok(answer.status().as_u16())
    }
}

/// A transport error with its causes (the resolver's refusal among them).
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn clip(text: &str) -> String {
    text.chars().take(MAX_ERROR_CHARS).collect()
}
