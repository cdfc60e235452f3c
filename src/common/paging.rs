//! Page sizes and opaque, authenticated page tokens (AIP-158).
//!
//! A token carries the key of the last item returned and a fingerprint of
//! the query that issued it, so a token replayed with a different filter is
//! refused instead of silently returning the wrong page. Both are signed
//! with HMAC-SHA256 under the page-token key ([`PageTokens`]): a token that
//! was edited, or forged from a readable body with a recomputed
//! fingerprint, fails verification (in constant time) and is refused as
//! INVALID_ARGUMENT before its body is read. Every replica serving one
//! database signs with the same key (configured, or stored in the
//! database), so a token issued by one is honoured by all.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
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

/// The longest page token read, in characters; longer ones are refused
/// before they are decoded.
pub const MAX_PAGE_TOKEN_BYTES: usize = 2048;
/// The fewest bytes a configured page-token key may have.
pub const MIN_PAGE_TOKEN_KEY_BYTES: usize = 32;
/// Bytes of the HMAC-SHA256 tag that starts every token.
const TAG_BYTES: usize = 32;
/// Binds tags to this use of the key and to this token format.
const TAG_CONTEXT: &[u8] = b"tenantd page token v1\0";

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
    crate::common::hex(&hasher.finalize()[..12])
}

/// A page-token key given in the configuration; never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct PageTokenKey(Vec<u8>);

impl PageTokenKey {
    /// A key of at least [`MIN_PAGE_TOKEN_KEY_BYTES`] bytes of `text`.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        if text.len() < MIN_PAGE_TOKEN_KEY_BYTES {
            return Err(format!(
                "must be at least {MIN_PAGE_TOKEN_KEY_BYTES} bytes long (e.g. 64 hex digits)"
            ));
        }
        Ok(Self(text.as_bytes().to_vec()))
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for PageTokenKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("PageTokenKey(***)")
    }
}

/// Issues and checks page tokens under one key; cheap to clone.
#[derive(Clone)]
pub struct PageTokens {
    /// HMAC-SHA256 keyed once; each token clones it.
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for PageTokens {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("PageTokens(***)")
    }
}

fn not_issued(field: &str) -> Error {
    Error::invalid_field(field, "is not a page token issued by this service")
}

impl PageTokens {
    /// Tokens signed with `key`.
    pub fn new(key: &[u8]) -> Result<Self> {
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(key).map_err(Error::internal)?;
        Ok(Self { mac })
    }

    /// Tokens signed with a fresh random key, honoured by this process
    /// only: for commands that serve no listing.
    pub fn random() -> Result<Self> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|error| Error::internal(error.to_string()))?;
        Self::new(&key)
    }

    fn tag(&self, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(TAG_CONTEXT);
        mac.update(body);
        mac
    }

    /// Makes the token for the page after the item whose key is `after`.
    pub fn encode(&self, after: &str, fingerprint: &str) -> String {
        let body = TokenBody {
            after: after.to_owned(),
            query: fingerprint.to_owned(),
        };
        // Serialising two strings cannot fail.
        let json = serde_json::to_vec(&body).unwrap_or_default();
        let mut token = self.tag(&json).finalize().into_bytes().to_vec();
        token.extend_from_slice(&json);
        URL_SAFE_NO_PAD.encode(token)
    }

    /// Reads a token: `None` for the first page, the last key otherwise.
    /// Its tag is verified before anything in it is read.
    pub fn decode(&self, token: &str, fingerprint: &str, field: &str) -> Result<Option<String>> {
        if token.is_empty() {
            return Ok(None);
        }
        if token.len() > MAX_PAGE_TOKEN_BYTES {
            return Err(not_issued(field));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| not_issued(field))?;
        if bytes.len() < TAG_BYTES {
            return Err(not_issued(field));
        }
        let (tag, json) = bytes.split_at(TAG_BYTES);
        self.tag(json)
            .verify_slice(tag)
            .map_err(|_| not_issued(field))?;
        let body: TokenBody = serde_json::from_slice(json).map_err(|_| not_issued(field))?;
        if body.query != fingerprint {
            return Err(Error::invalid_field(
                field,
                "was issued for a different query; keep the filter and other parameters unchanged while paging",
            ));
        }
        Ok(Some(body.after))
    }

    /// One page of a listing whose query is `query` (its parameters apart
    /// from paging, fingerprinted so a token is honoured only for the query
    /// that issued it): `page_token` is read, `list` fetches up to `limit`
    /// rows after the key it gives (`None` on the first page), and the page
    /// is cut with the token of the next one, keyed by `key_of`. `list` is
    /// asked for one row more than `page_size`, to tell whether a next page
    /// exists.
    pub async fn page<T>(
        &self,
        query: &[&str],
        page_size: u64,
        page_token: &str,
        list: impl AsyncFnOnce(Option<String>, u64) -> Result<Vec<T>>,
        key_of: impl Fn(&T) -> String,
    ) -> Result<(Vec<T>, String)> {
        let fingerprint = query_fingerprint(query);
        let after = self.decode(page_token, &fingerprint, "page_token")?;
        let rows = list(after, page_size + 1).await?;
        Ok(self.cut_page(rows, page_size, &fingerprint, key_of))
    }

    /// One page cut from `limit + 1` fetched rows: the rows to return and
    /// the token for the next page, if there is one.
    pub fn cut_page<T>(
        &self,
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
            .map(|last| self.encode(&key_of(last), fingerprint))
            .unwrap_or_default();
        (rows, token)
    }
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
        let tokens = PageTokens::new(b"0123456789abcdef0123456789abcdef").unwrap();
        let fingerprint = query_fingerprint(&["state = ACTIVE", "false"]);
        let token = tokens.encode("key-1", &fingerprint);
        assert_eq!(
            tokens.decode(&token, &fingerprint, "t").unwrap().as_deref(),
            Some("key-1")
        );
        let other = query_fingerprint(&["state = SUSPENDED", "false"]);
        assert!(tokens.decode(&token, &other, "t").is_err());
        assert!(tokens.decode("garbage!", &fingerprint, "t").is_err());
        assert!(tokens.decode("", &fingerprint, "t").unwrap().is_none());
        let huge = "A".repeat(MAX_PAGE_TOKEN_BYTES + 1);
        assert!(tokens.decode(&huge, &fingerprint, "t").is_err());
    }

    #[tokio::test]
    async fn pages_follow_one_another_and_keep_their_query() {
        let tokens = PageTokens::new(b"0123456789abcdef0123456789abcdef").unwrap();
        let keys: Vec<String> = ["a", "b", "c"].map(String::from).into();
        let list = async |after: Option<String>, limit: u64| {
            let rows = keys.iter().filter(|key| after.as_ref() < Some(key));
            Ok(rows.take(limit as usize).cloned().collect())
        };
        let (first, token) = tokens
            .page(&["keys"], 2, "", list, Clone::clone)
            .await
            .unwrap();
        assert_eq!(first, ["a", "b"]);
        let (second, last) = tokens
            .page(&["keys"], 2, &token, list, Clone::clone)
            .await
            .unwrap();
        assert_eq!((second, last.as_str()), (vec!["c".to_owned()], ""));
        let other = tokens.page(&["other"], 2, &token, list, Clone::clone);
        assert!(other.await.is_err());
    }

    #[test]
    fn edited_forged_and_foreign_tokens_are_refused() {
        let tokens = PageTokens::new(b"0123456789abcdef0123456789abcdef").unwrap();
        let fingerprint = query_fingerprint(&["tenants"]);
        let token = tokens.encode("key-1", &fingerprint);
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        let last = bytes.len() - 2;
        bytes[last] ^= 1;
        let edited = URL_SAFE_NO_PAD.encode(&bytes);
        assert!(tokens.decode(&edited, &fingerprint, "t").is_err());
        // The readable body with any tag but the key's own.
        let body = br#"{"after":"key-9","query":""#;
        let mut forged = vec![0u8; TAG_BYTES];
        forged.extend_from_slice(body);
        forged.extend_from_slice(fingerprint.as_bytes());
        forged.extend_from_slice(b"\"}");
        let forged = URL_SAFE_NO_PAD.encode(forged);
        assert!(tokens.decode(&forged, &fingerprint, "t").is_err());
        let other_key = PageTokens::new(b"fedcba9876543210fedcba9876543210").unwrap();
        assert!(other_key.decode(&token, &fingerprint, "t").is_err());
        assert!(format!("{tokens:?}").contains("***"));
        assert!(PageTokenKey::parse("short").is_err());
        let key = PageTokenKey::parse(&"k".repeat(32)).unwrap();
        assert!(!format!("{key:?}").contains("kkkk"));
    }
}
