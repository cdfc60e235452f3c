//! The credential and tenant headers of a request, read one way for every
//! door: the tenant context layer's gRPC metadata and the HTTP requests
//! Envoy's ext_authz asks about.
//!
//! Sent twice, a header is refused rather than resolved by order: a proxy
//! that appends its own value must not let either one win silently. A
//! value that is not visible ASCII is refused too, not taken as absent, so
//! it cannot make resolution fall through to a weaker source (and no NUL
//! reaches a lookup).

use crate::error::{Error, Result};

/// The one value of the credential or tenant header `name` among `values`
/// (every value the request carries for it), `None` when it is absent.
pub fn one_value<'r>(
    name: &str,
    values: impl IntoIterator<Item = &'r [u8]>,
) -> Result<Option<&'r str>> {
    let mut values = values.into_iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(refused(
            name,
            "CREDENTIALS_AMBIGUOUS",
            "must be sent once, not several times",
        ));
    }
    let visible = value
        .iter()
        .all(|byte| *byte == b'\t' || (0x20..0x7f).contains(byte));
    std::str::from_utf8(value)
        .ok()
        .filter(|_| visible)
        .map(Some)
        .ok_or_else(|| refused(name, "CREDENTIALS_MALFORMED", "must be visible ASCII"))
}

/// The refusal of a bad `name` header: UNAUTHENTICATED with `reason` for
/// credentials, INVALID_ARGUMENT (naming the header) for the tenant headers.
fn refused(name: &str, reason: &'static str, description: &str) -> Error {
    if name == http::header::AUTHORIZATION.as_str() || name == API_KEY_HEADER {
        return Error::Unauthenticated {
            reason,
            message: format!("the {name} header {description}"),
        };
    }
    Error::invalid_field(name, description)
}

/// The header a gateway's clients may send a tenant API key in, instead
/// of `authorization: Bearer …`.
pub const API_KEY_HEADER: &str = "x-api-key";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_visible_value_is_read_and_anything_else_refused() {
        assert_eq!(one_value("x-tenant-id", []).unwrap(), None);
        let one: [&[u8]; 1] = [b"abc"];
        assert_eq!(one_value("x-tenant-id", one).unwrap(), Some("abc"));
        let two: [&[u8]; 2] = [b"a", b"b"];
        let error = one_value("authorization", two).unwrap_err();
        assert_eq!(error.reason(), "CREDENTIALS_AMBIGUOUS");
        let nul: [&[u8]; 1] = [b"a\0b"];
        assert_eq!(
            one_value("authorization", nul).unwrap_err().reason(),
            "CREDENTIALS_MALFORMED"
        );
        assert_eq!(
            one_value("x-tenant-slug", nul).unwrap_err().reason(),
            "INVALID_ARGUMENT"
        );
    }
}
