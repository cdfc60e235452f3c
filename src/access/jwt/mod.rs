//! End-user JWTs (OIDC): the issuers tenantd trusts, and how a token
//! becomes a `user` caller acting within one tenant.
//!
//! A token is checked in this order, each failure UNAUTHENTICATED with its
//! own reason: its issuer (`iss`) must be configured (`JWT_ISSUER_UNKNOWN`);
//! its `alg` must be one the issuer allows, which never includes `none` or
//! an HMAC algorithm, so a token "signed" with a public key as an HMAC
//! secret is refused before any key is looked at
//! (`JWT_ALGORITHM_NOT_ALLOWED`); its `kid` must name a key the issuer
//! publishes (`JWT_KEY_UNKNOWN`); then the signature (`CREDENTIALS_INVALID`),
//! the audience (`JWT_AUDIENCE_INVALID`), `exp` (`JWT_EXPIRED`) and `nbf`
//! (`JWT_NOT_YET_VALID`), with the issuer's clock skew; and the claim that
//! names the tenant must be there (`JWT_TENANT_CLAIM_MISSING`).

pub mod jwks;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, AlgorithmFamily, Validation};
use serde::Deserialize;
use serde_json::Value;

use crate::access::api_key::SCOPES;
use crate::access::jwt::jwks::Jwks;
use crate::common::ids::{TenantId, TenantRef};
use crate::error::{Error, Result};

/// What names the tenant in a token's tenant claim.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantClaim {
    /// The tenant's UUID.
    #[default]
    Id,
    /// Its slug.
    Slug,
    /// Its external id (an identity provider's organisation id).
    ExternalId,
}

/// One trusted issuer, as configured (`--jwt-issuers-file`, a JSON array).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// The `iss` its tokens carry.
    pub issuer: String,
    /// Where its keys are published: HTTPS, or HTTP to a loopback address.
    pub jwks_url: String,
    /// Audiences a token must carry one of.
    pub audiences: Vec<String>,
    /// Signature algorithms accepted: RS*, PS*, ES256, ES384 or EdDSA.
    pub algorithms: Vec<String>,
    /// Seconds of clock difference tolerated on `exp` and `nbf`.
    #[serde(default = "default_clock_skew")]
    pub clock_skew_seconds: u64,
    /// The claim naming the tenant.
    pub tenant_claim: String,
    /// What that claim holds.
    #[serde(default)]
    pub tenant_claim_names: TenantClaim,
    /// The claim carrying roles or permissions (an array of strings, or a
    /// space-separated string as OAuth's `scope`); none grants no scope.
    #[serde(default)]
    pub scopes_claim: Option<String>,
    /// Role → tenantd scopes. Empty: the claim's values are tenantd scopes
    /// themselves (unknown ones are ignored).
    #[serde(default)]
    pub scope_map: BTreeMap<String, Vec<String>>,
    /// The shortest time between two fetches of the key set.
    #[serde(default = "default_min_refresh")]
    pub jwks_min_refresh_seconds: u64,
}

/// The longest token read: identity providers' tokens are a few KiB; a
/// longer one is refused before it is decoded.
pub const MAX_TOKEN_BYTES: usize = 8192;

fn default_clock_skew() -> u64 {
    60
}

fn default_min_refresh() -> u64 {
    30
}

/// A verified token's user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserToken {
    /// The tenant its claim names.
    pub tenant: TenantRef,
    /// `sub`.
    pub subject: String,
    /// The tenantd scopes its roles grant.
    pub scopes: Vec<String>,
    /// `exp`.
    pub expire_time: Option<DateTime<Utc>>,
}

struct Issuer {
    config: IssuerConfig,
    algorithms: Vec<Algorithm>,
    keys: Jwks,
}

/// The trusted issuers, by `iss`; cheap to clone.
#[derive(Clone, Default)]
pub struct Issuers {
    by_issuer: Arc<HashMap<String, Issuer>>,
}

impl std::fmt::Debug for Issuers {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_list()
            .entries(self.by_issuer.keys())
            .finish()
    }
}

fn refused(reason: &'static str, message: impl Into<String>) -> Error {
    Error::Unauthenticated {
        reason,
        message: message.into(),
    }
}

impl Issuers {
    /// Validates `configs` into issuers; a configuration error names the
    /// issuer and what is wrong.
    pub fn new(configs: Vec<IssuerConfig>) -> Result<Self> {
        let mut by_issuer = HashMap::new();
        for config in configs {
            let issuer = issuer(config)?;
            by_issuer.insert(issuer.config.issuer.clone(), issuer);
        }
        Ok(Self {
            by_issuer: Arc::new(by_issuer),
        })
    }

    /// Whether any issuer is trusted.
    pub fn is_empty(&self) -> bool {
        self.by_issuer.is_empty()
    }

    /// Verifies `token` as the module docs say.
    pub async fn verify(&self, token: &str) -> Result<UserToken> {
        let (alg, kid, iss) = peek(token)?;
        let issuer = self
            .by_issuer
            .get(&iss)
            .ok_or_else(|| refused("JWT_ISSUER_UNKNOWN", "the token's issuer is not trusted"))?;
        let algorithm = alg
            .parse::<Algorithm>()
            .ok()
            .filter(|algorithm| issuer.algorithms.contains(algorithm))
            .ok_or_else(|| {
                refused(
                    "JWT_ALGORITHM_NOT_ALLOWED",
                    format!("the issuer's tokens are not signed with {alg:?}"),
                )
            })?;
        let unknown_key = || {
            refused(
                "JWT_KEY_UNKNOWN",
                "the issuer publishes no key the token names",
            )
        };
        let kid = kid.ok_or_else(unknown_key)?;
        let key = issuer.keys.key(&kid).await?.ok_or_else(unknown_key)?;
        let validation = validation(&issuer.config, algorithm);
        let claims =
            jsonwebtoken::decode::<serde_json::Map<String, Value>>(token, &key, &validation)
                .map_err(|error| token_refusal(error.kind()))?
                .claims;
        user(&issuer.config, &claims)
    }
}

/// A configured issuer, checked.
fn issuer(config: IssuerConfig) -> Result<Issuer> {
    let wrong = |what: String| {
        Error::invalid_field(
            "jwt-issuers-file",
            format!("issuer {:?}: {what}", config.issuer),
        )
    };
    let mut algorithms = Vec::new();
    for name in &config.algorithms {
        let algorithm: Algorithm = name
            .parse()
            .map_err(|_| wrong(format!("{name:?} is not a signature algorithm")))?;
        if algorithm.family() == AlgorithmFamily::Hmac {
            return Err(wrong(format!(
                "{name} is a shared-secret algorithm; only public-key algorithms are accepted"
            )));
        }
        algorithms.push(algorithm);
    }
    if algorithms.is_empty() || config.audiences.is_empty() {
        return Err(wrong(
            "needs at least one algorithm and one audience".to_owned(),
        ));
    }
    let url =
        url::Url::parse(&config.jwks_url).map_err(|error| wrong(format!("jwks_url: {error}")))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    };
    if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
        return Err(wrong(
            "jwks_url must be https (http only to a loopback address)".to_owned(),
        ));
    }
    let min_refresh = Duration::from_secs(config.jwks_min_refresh_seconds);
    let keys = Jwks::new(config.jwks_url.clone(), min_refresh)?;
    Ok(Issuer {
        config,
        algorithms,
        keys,
    })
}

/// The header's `alg` and `kid` and the payload's `iss`, unverified: they
/// only choose what the token is then verified with.
pub(crate) fn peek(token: &str) -> Result<(String, Option<String>, String)> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(refused(
            "CREDENTIALS_MALFORMED",
            format!("the token is over {MAX_TOKEN_BYTES} bytes"),
        ));
    }
    let malformed = || refused("CREDENTIALS_MALFORMED", "the token is not a JWT");
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed());
    };
    let json = |part: &str| -> Option<serde_json::Map<String, Value>> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .ok()?;
        serde_json::from_slice(&bytes).ok()
    };
    let (header, payload) = (
        json(header).ok_or_else(malformed)?,
        json(payload).ok_or_else(malformed)?,
    );
    let text = |map: &serde_json::Map<String, Value>, key: &str| {
        map.get(key).and_then(Value::as_str).map(str::to_owned)
    };
    let alg = text(&header, "alg").ok_or_else(malformed)?;
    let iss = text(&payload, "iss")
        .ok_or_else(|| refused("JWT_ISSUER_UNKNOWN", "the token names no issuer"))?;
    Ok((alg, text(&header, "kid"), iss))
}

fn validation(config: &IssuerConfig, algorithm: Algorithm) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.set_issuer(&[&config.issuer]);
    validation.set_audience(&config.audiences);
    validation.leeway = config.clock_skew_seconds;
    validation.validate_nbf = true;
    validation.required_spec_claims =
        HashSet::from(["exp", "sub", "aud", "iss"].map(str::to_owned));
    validation
}

fn token_refusal(kind: &jsonwebtoken::errors::ErrorKind) -> Error {
    use jsonwebtoken::errors::ErrorKind;
    match kind {
        ErrorKind::ExpiredSignature => refused("JWT_EXPIRED", "the token has expired"),
        ErrorKind::ImmatureSignature => refused("JWT_NOT_YET_VALID", "the token is not valid yet"),
        ErrorKind::InvalidAudience => {
            refused("JWT_AUDIENCE_INVALID", "the token is not meant for tenantd")
        }
        ErrorKind::InvalidIssuer => {
            refused("JWT_ISSUER_UNKNOWN", "the token's issuer is not trusted")
        }
        ErrorKind::MissingRequiredClaim(claim) => refused(
            "CREDENTIALS_INVALID",
            format!("the token has no {claim:?} claim"),
        ),
        _ => refused("CREDENTIALS_INVALID", "the token is not valid"),
    }
}

/// The user a verified token's claims describe.
fn user(config: &IssuerConfig, claims: &serde_json::Map<String, Value>) -> Result<UserToken> {
    let missing = || {
        refused(
            "JWT_TENANT_CLAIM_MISSING",
            format!(
                "the token has no {:?} claim naming its tenant",
                config.tenant_claim
            ),
        )
    };
    let named = claims
        .get(&config.tenant_claim)
        .and_then(Value::as_str)
        .filter(|value| !value.is_empty() && !value.contains('/'))
        .ok_or_else(missing)?;
    let tenant = match config.tenant_claim_names {
        TenantClaim::Id => {
            TenantRef::Id(TenantId::parse(named, "tenant claim").map_err(|_| missing())?)
        }
        TenantClaim::Slug => TenantRef::Slug(named.to_owned()),
        TenantClaim::ExternalId => TenantRef::External(named.to_owned()),
    };
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let expire_time = claims
        .get("exp")
        .and_then(Value::as_i64)
        .and_then(|seconds| DateTime::from_timestamp(seconds, 0));
    Ok(UserToken {
        tenant,
        subject,
        scopes: scopes(config, claims),
        expire_time,
    })
}

/// The tenantd scopes a token's roles grant, sorted, known scopes only.
fn scopes(config: &IssuerConfig, claims: &serde_json::Map<String, Value>) -> Vec<String> {
    let Some(claim) = config
        .scopes_claim
        .as_ref()
        .and_then(|name| claims.get(name))
    else {
        return Vec::new();
    };
    let roles: Vec<&str> = match claim {
        Value::String(text) => text.split_whitespace().collect(),
        Value::Array(values) => values.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let mut granted: Vec<String> = roles
        .into_iter()
        .flat_map(|role| {
            if config.scope_map.is_empty() {
                vec![role.to_owned()]
            } else {
                config.scope_map.get(role).cloned().unwrap_or_default()
            }
        })
        .filter(|scope| SCOPES.contains(&scope.as_str()))
        .collect();
    granted.sort();
    granted.dedup();
    granted
}
