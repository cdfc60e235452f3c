//! Configured bearer tokens (admin and service) and how a presented token
//! is matched against them: in constant time, comparing with every one, so
//! the time taken says nothing about which token came close.

use std::sync::Arc;

use crate::config::NamedToken;

/// A configured token, with its name ready to hand to callers.
pub(super) struct Token {
    /// The configured name.
    name: Arc<str>,
    /// The bearer token.
    secret: String,
}

impl Token {
    /// The token as configured.
    pub(super) fn from_config(token: &NamedToken) -> Self {
        Self {
            name: Arc::from(token.name.as_str()),
            secret: token.token.clone(),
        }
    }
}

/// Equality whose time depends on the lengths only, not on where the
/// inputs differ.
pub(super) fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    if left.len() != right.len() {
        return false;
    }
    let difference = left
        .iter()
        .zip(right)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    std::hint::black_box(difference) == 0
}

/// The name of the configured token equal to `presented`, comparing
/// against every one.
pub(super) fn match_token(tokens: &[Token], presented: &str) -> Option<Arc<str>> {
    let mut found = None;
    for token in tokens {
        if constant_time_eq(token.secret.as_bytes(), presented.as_bytes()) {
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
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(constant_time_eq(b"abc", b"abc"));
    }
}
