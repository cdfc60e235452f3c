//! An issuer's signing keys, fetched from its JWKS URL and kept by key id.
//!
//! Keys are fetched on first use and again when a token names a key id the
//! cache does not hold (an issuer rotating its keys), at most once per
//! `min_refresh`, so tokens with made-up key ids cannot turn into a flood
//! of requests to the issuer. A failed fetch keeps the keys held: an issuer
//! briefly down does not stop its users.
//!
//! A fetch is a client span by the OpenTelemetry HTTP conventions, and the
//! request carries its W3C trace context, so the issuer's side of the fetch
//! joins the trace of the call that needed the key.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::JwkSet;
use tracing::Span;
use tracing::field::Empty;

use crate::common::otel::{self, OTHER};
use crate::error::{Error, Result};

/// The most bytes of a JWKS document read.
const MAX_JWKS_BYTES: usize = 1 << 20;
/// How long one fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// One issuer's keys.
pub struct Jwks {
    /// Where the key set is published.
    url: String,
    /// The shortest time between two fetches.
    min_refresh: Duration,
    /// The HTTP client (HTTPS, or HTTP to loopback).
    client: reqwest::Client,
    /// The keys held, by key id.
    keys: RwLock<HashMap<String, Arc<DecodingKey>>>,
    /// When the last fetch began; held while fetching, so one fetch runs.
    fetched: tokio::sync::Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Jwks {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Jwks")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Jwks {
    /// The keys published at `url`, fetched when first needed.
    pub fn new(url: String, min_refresh: Duration) -> Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(Error::internal)?;
        Ok(Self {
            url,
            min_refresh,
            client,
            keys: RwLock::new(HashMap::new()),
            fetched: tokio::sync::Mutex::new(None),
        })
    }

    fn held(&self, kid: &str) -> Option<Arc<DecodingKey>> {
        let keys = self
            .keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        keys.get(kid).cloned()
    }

    /// The key `kid`, fetching the key set when it is not held and a fetch
    /// is due. `None` when the issuer does not publish it.
    pub async fn key(&self, kid: &str) -> Result<Option<Arc<DecodingKey>>> {
        if let Some(key) = self.held(kid) {
            return Ok(Some(key));
        }
        let mut fetched = self.fetched.lock().await;
        // Another call may have fetched it while this one waited.
        if let Some(key) = self.held(kid) {
            return Ok(Some(key));
        }
        if fetched.is_some_and(|at| at.elapsed() < self.min_refresh) {
            return Ok(None);
        }
        *fetched = Some(Instant::now());
        match self.fetch().await {
            Ok(keys) => {
                *self
                    .keys
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = keys;
            }
            Err(error) => {
                tracing::warn!(url = %self.url, %error, "cannot fetch the issuer's keys; keeping those held");
                if self
                    .keys
                    .read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .is_empty()
                {
                    return Err(Error::Unavailable {
                        message:
                            "the token's issuer publishes no keys tenantd could fetch; retry later"
                                .to_owned(),
                    });
                }
            }
        }
        Ok(self.held(kid))
    }

    /// The span of one fetch: `GET` to the issuer, its URL without
    /// credentials or query (which some deployments put secrets in).
    fn fetch_span(&self) -> Span {
        let url = url::Url::parse(&self.url).ok();
        let host = url
            .as_ref()
            .and_then(url::Url::host_str)
            .unwrap_or_default();
        let port = url.as_ref().and_then(url::Url::port_or_known_default);
        let shown = url.as_ref().map(|url| {
            let path = url.path();
            match url.port() {
                Some(port) => format!("{}://{host}:{port}{path}", url.scheme()),
                None => format!("{}://{host}{path}", url.scheme()),
            }
        });
        tracing::info_span!(
            "jwks",
            otel.name = "GET",
            otel.kind = "client",
            otel.status_code = Empty,
            http.request.method = "GET",
            server.address = host,
            server.port = port,
            url.full = shown,
            http.response.status_code = Empty,
            "error.type" = Empty,
        )
    }

    async fn fetch(&self) -> std::result::Result<HashMap<String, Arc<DecodingKey>>, String> {
        let span = self.fetch_span();
        let mut headers = http::HeaderMap::new();
        otel::propagate_trace(&span, &mut headers);
        let request = self.client.get(&self.url).headers(headers);
        let body =
            tracing::Instrument::instrument(fetch_body(request, &span), span.clone()).await?;
        if body.len() > MAX_JWKS_BYTES {
            return Err(format!("the key set is over {MAX_JWKS_BYTES} bytes"));
        }
        let set: JwkSet = serde_json::from_slice(&body).map_err(|error| error.to_string())?;
        Ok(set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                let key = DecodingKey::from_jwk(jwk).ok()?;
                Some((kid, Arc::new(key)))
            })
            .collect())
    }
}

/// Sends `request` and reads its answer, recording on `span` the status
/// code, or how it failed.
async fn fetch_body(
    request: reqwest::RequestBuilder,
    span: &Span,
) -> std::result::Result<Vec<u8>, String> {
    let failed = |error_type: &str, error: reqwest::Error| {
        span.record("error.type", error_type);
        span.record("otel.status_code", "ERROR");
        error.to_string()
    };
    let response = request.send().await.map_err(|error| {
        let error_type = if error.is_timeout() { "timeout" } else { OTHER };
        failed(error_type, error)
    })?;
    let status = response.status();
    span.record("http.response.status_code", i64::from(status.as_u16()));
    if let Err(error) = response.error_for_status_ref() {
        return Err(failed(status.as_str(), error));
    }
    let body = response
        .bytes()
        .await
        .map_err(|error| failed(OTHER, error))?;
    Ok(body.to_vec())
}
