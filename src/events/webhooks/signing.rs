//! Standard Webhooks signatures: the secret (`whsec_` + base64 of random
//! bytes) and the `webhook-signature` header, `v1,` + base64 of the
//! HMAC-SHA256 of `{id}.{timestamp}.{body}` keyed by the decoded secret.
//!
//! Invariant: a secret leaves this module only as the creation answer;
//! its `Debug` prints nothing of it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{Error, Result};

/// The prefix of every signing secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a new secret (the specification asks at least 24).
pub const SECRET_BYTES: usize = 32;

/// A signing secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(String);

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("SigningSecret(..)")
    }
}

impl SigningSecret {
    /// A new random secret.
    pub fn generate() -> Result<Self> {
        let mut bytes = [0u8; SECRET_BYTES];
        getrandom::fill(&mut bytes).map_err(|error| Error::internal(error.to_string()))?;
        Ok(Self(format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))))
    }

    /// A secret as stored.
    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    /// The secret's text, `whsec_…`: to store, and to show once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The `webhook-signature` header of `body` sent as `id` at `timestamp`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> Result<String> {
        let encoded = self.0.strip_prefix(SECRET_PREFIX).unwrap_or(&self.0);
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| Error::internal("a stored webhook secret is not base64"))?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(Error::internal)?;
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        Ok(format!(
            "v1,{}",
            STANDARD.encode(mac.finalize().into_bytes())
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_as_the_specification_example_does() {
        // The example of the Standard Webhooks specification.
        let secret =
            SigningSecret::from_stored("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned());
        let signature = secret
            .sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#,
            )
            .unwrap();
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn new_secrets_are_prefixed_random_and_hidden_from_debug() {
        let one = SigningSecret::generate().unwrap();
        let two = SigningSecret::generate().unwrap();
        assert!(one.expose().starts_with(SECRET_PREFIX));
        assert_ne!(one, two);
        let decoded = STANDARD
            .decode(&one.expose()[SECRET_PREFIX.len()..])
            .unwrap();
        assert_eq!(decoded.len(), SECRET_BYTES);
        assert!(!format!("{one:?}").contains(&one.expose()[SECRET_PREFIX.len()..]));
    }
}
