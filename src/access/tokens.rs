//! Configured bearer tokens (admin and service) and how a presented token
//! is matched against them: in constant time, comparing fixed-length
//! SHA-256 digests with every one, so the time taken says nothing about
//! which token came close, nor how long any of them is.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::access::named_tokens::NamedToken;
use crate::error::{Error, Result};

/// The token or API key of an `authorization: Bearer …` header value.
pub(crate) fn bearer_token(header: &str) -> Result<&str> {
    header
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty())
        .ok_or_else(|| Error::Unauthenticated {
            reason: "CREDENTIALS_MALFORMED",
            message: "the authorization header must read `Bearer <token or API key>`".to_owned(),
        })
}

/// A configured token, with its name ready to hand to callers.
pub(crate) struct Token {
    /// The configured name.
    name: Arc<str>,
    /// The SHA-256 digest of the bearer token; the token itself is not kept.
    digest: [u8; 32],
}

impl Token {
    /// The token as configured.
    pub(crate) fn from_config(token: &NamedToken) -> Self {
        Self {
            name: Arc::from(token.name.as_str()),
            digest: Sha256::digest(token.token.as_bytes()).into(),
        }
    }
}

/// Equality of two secrets whose time depends on neither where they differ
/// nor their lengths: their SHA-256 digests are compared with `subtle`.
pub(crate) fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    let left: [u8; 32] = Sha256::digest(left).into();
    let right: [u8; 32] = Sha256::digest(right).into();
    left.ct_eq(&right).into()
}

/// The name of the configured token equal to `presented`, comparing
/// against every one.
pub(crate) fn match_token(tokens: &[Token], presented: &str) -> Option<Arc<str>> {
    let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
    let mut found = None;
    for token in tokens {
        if bool::from(token.digest.ct_eq(&presented)) {
            found = Some(Arc::clone(&token.name));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_exactly() {
        let tokens = [
            Token::from_config(&NamedToken {
                name: "a".into(),
                token: "0123456789abcdef".into(),
            }),
            Token::from_config(&NamedToken {
                name: "b".into(),
                token: "fedcba9876543210".into(),
            }),
        ];
        assert_eq!(
            match_token(&tokens, "fedcba9876543210").as_deref(),
            Some("b")
        );
        assert!(match_token(&tokens, "fedcba987654321").is_none());
        assert!(match_token(&tokens, "fedcba98765432100").is_none());
        assert!(match_token(&tokens, "").is_none());
    }

    #[test]
    fn secrets_of_any_length_compare_as_fixed_length_digests() {
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(constant_time_eq(b"abc", b"abc"));
        // A prefix, an extension and the empty secret all differ; the
        // comparison sees two 32-byte digests in each case.
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"abc"));
        assert!(constant_time_eq(b"", b""));
        let long = "x".repeat(10_000);
        assert!(constant_time_eq(long.as_bytes(), long.as_bytes()));
    }
}
