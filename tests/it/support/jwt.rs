//! End users' JWTs for tests: a JWKS endpoint the test runs (its keys
//! can be rotated and it can be taken down) and tokens signed with the
//! test keys under `tests/it/fixtures/jwt`.

use std::sync::{Arc, Mutex};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::Value;
use tenantd::access::jwt::{IssuerConfig, TenantClaim};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The issuer of the tests' tokens.
pub const ISSUER: &str = "https://idp.example.test/";
/// The audience they carry.
pub const AUDIENCE: &str = "tenantd";
/// The first RSA key.
pub const RSA_1: &[u8] = include_bytes!("../fixtures/jwt/rsa-1.pem");
/// A second RSA key, for rotation and forgery.
pub const RSA_2: &[u8] = include_bytes!("../fixtures/jwt/rsa-2.pem");
/// The first RSA key's public half, as an HMAC secret would misuse it.
pub const RSA_1_PUBLIC: &[u8] = include_bytes!("../fixtures/jwt/rsa-1.pub.pem");
/// An EC P-256 key.
pub const EC_1: &[u8] = include_bytes!("../fixtures/jwt/ec-1.pem");

/// A JWKS endpoint: answers every request with the current key set, or
/// with 500 while "down".
pub struct Issuer {
    url: String,
    keys: Arc<Mutex<(JwkSet, bool)>>,
}

impl Issuer {
    /// Starts serving an empty key set.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!(
            "http://{}/jwks.json",
            listener.local_addr().expect("address")
        );
        let keys = Arc::new(Mutex::new((JwkSet { keys: Vec::new() }, false)));
        let served = keys.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request).await;
                let (body, down) = {
                    let keys = served.lock().unwrap();
                    (serde_json::to_string(&keys.0).unwrap(), keys.1)
                };
                let status = if down {
                    "500 Internal Server Error"
                } else {
                    "200 OK"
                };
                let answer = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            }
        });
        Self { url, keys }
    }

    /// Adds `key`'s public half under `kid`.
    pub fn publish(&self, kid: &str, key: &EncodingKey, alg: Algorithm) {
        let mut jwk = Jwk::from_encoding_key(key, alg).expect("a public JWK");
        jwk.common.key_id = Some(kid.to_owned());
        self.keys.lock().unwrap().0.keys.push(jwk);
    }

    /// Answers 500 while `down`.
    pub fn set_down(&self, down: bool) {
        self.keys.lock().unwrap().1 = down;
    }

    /// The issuer's configuration: RS256 and ES256, the tenant named by
    /// `claim` in `org_id`, roles in `roles` mapped by `scope_map`
    /// (used as scopes themselves when empty).
    pub fn config(&self, claim: TenantClaim, scope_map: &[(&str, &[&str])]) -> IssuerConfig {
        IssuerConfig {
            issuer: ISSUER.to_owned(),
            jwks_url: self.url.clone(),
            audiences: vec![AUDIENCE.to_owned()],
            algorithms: vec!["RS256".to_owned(), "ES256".to_owned()],
            clock_skew_seconds: 5,
            tenant_claim: "org_id".to_owned(),
            tenant_claim_names: claim,
            scopes_claim: Some("roles".to_owned()),
            scope_map: scope_map
                .iter()
                .map(|(role, scopes)| {
                    let scopes = scopes.iter().map(|scope| (*scope).to_owned()).collect();
                    ((*role).to_owned(), scopes)
                })
                .collect(),
            jwks_min_refresh_seconds: 0,
        }
    }
}

/// `claims` signed with `key` under `kid`.
pub fn sign(kid: &str, alg: Algorithm, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, key).expect("sign")
}

/// A PEM RSA key.
pub fn rsa(pem: &[u8]) -> EncodingKey {
    EncodingKey::from_rsa_pem(pem).expect("an RSA key")
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
