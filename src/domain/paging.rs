//! Page sizes and opaque page tokens (AIP-158).
//!
//! A token carries the key of the last item returned and a fingerprint of
//! the query that issued it, so a token replayed with a different filter is
//! refused instead of silently returning the wrong page.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Page size when the caller sets none.
pub const DEFAULT_PAGE_SIZE: u64 = 50;
/// Larger page sizes are lowered to this.
pub const MAX_PAGE_SIZE: u64 = 1000;

/// Validates `page_size`: negative is refused, 0 means the default, and
/// anything above [`MAX_PAGE_SIZE`] is lowered to it.
pub fn page_size(raw: i32, field: &str) -> Result<u64> {
    match u64::try_from(raw) {
        Err(_) => Err(Error::invalid_field(field, "must not be negative")),
        Ok(0) => Ok(DEFAULT_PAGE_SIZE),
        Ok(size) => Ok(size.min(MAX_PAGE_SIZE)),
    }
}

#[derive(Serialize, Deserialize)]
struct TokenBody {
    /// The sort key of the last item on the previous page.
    after: String,
    /// Fingerprint of the query that issued the token.
    query: String,
}

/// Identifies a listing's parameters apart from paging.
pub fn query_fingerprint(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    super::hex(&hasher.finalize()[..12])
}

/// Makes the token for the page after the item whose key is `after`.
pub fn encode_token(after: &str, fingerprint: &str) -> String {
    let body = TokenBody {
        after: after.to_owned(),
        query: fingerprint.to_owned(),
    };
    // Serialising two strings cannot fail.
    let json = serde_json::to_vec(&body).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// Reads a token: `None` for the first page, the last key otherwise.
pub fn decode_token(token: &str, fingerprint: &str, field: &str) -> Result<Option<String>> {
    if token.is_empty() {
        return Ok(None);
    }
    let body: TokenBody = URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| Error::invalid_field(field, "is not a page token issued by this service"))?;
    if body.query != fingerprint {
        return Err(Error::invalid_field(
            field,
            "was issued for a different query; keep the filter and other parameters unchanged while paging",
        ));
    }
    Ok(Some(body.after))
}

/// One page cut from `limit + 1` fetched rows: the rows to return and the
/// token for the next page, if there is one.
pub fn cut_page<T>(
    mut rows: Vec<T>,
    limit: u64,
    fingerprint: &str,
    key_of: impl Fn(&T) -> String,
) -> (Vec<T>, String) {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if rows.len() <= limit {
        return (rows, String::new());
    }
    rows.truncate(limit);
    let token = rows
        .last()
        .map(|last| encode_token(&key_of(last), fingerprint))
        .unwrap_or_default();
    (rows, token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_are_defaulted_and_capped() {
        assert_eq!(page_size(0, "page_size").unwrap(), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size(5000, "page_size").unwrap(), MAX_PAGE_SIZE);
        assert!(page_size(-1, "page_size").is_err());
    }

    #[test]
    fn tokens_round_trip_and_refuse_other_queries() {
        let fingerprint = query_fingerprint(&["state = ACTIVE", "false"]);
        let token = encode_token("key-1", &fingerprint);
        assert_eq!(
            decode_token(&token, &fingerprint, "t").unwrap().as_deref(),
            Some("key-1")
        );
        let other = query_fingerprint(&["state = SUSPENDED", "false"]);
        assert!(decode_token(&token, &other, "t").is_err());
        assert!(decode_token("garbage!", &fingerprint, "t").is_err());
        assert_eq!(decode_token("", &fingerprint, "t").unwrap(), None);
    }
}
