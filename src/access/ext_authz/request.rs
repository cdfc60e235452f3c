//! What the gate reads from the HTTP request a `CheckRequest` describes:
//! its credential, tenant headers, host, request id and source address.
//!
//! Envoy sends the headers as `attributes.request.http.headers` (lowercase
//! keys, repeated headers joined by commas) or, in newer versions, as
//! `header_map` (one entry per value); both are read, each header through
//! [`one_value`], so a header sent twice or holding what is not visible
//! ASCII is refused as the tenant context layer refuses it.

use std::borrow::Cow;
use std::net::IpAddr;

use crate::access::api_key::SCOPES;
use crate::access::gate::{Call, TENANT_ID_HEADER, TENANT_SLUG_HEADER};
use crate::access::headers::{API_KEY_HEADER, one_value};
use crate::access::methods::{ANY_SCOPE, ENVOY_AUTHORIZATION, MethodAccess, Target};
use crate::access::resolve::{ResolveTarget, not_found};
use crate::error::{Error, Result};
use envoy_types::pb::envoy::config::core::v3::address::Address;
use envoy_types::pb::envoy::service::auth::v3::CheckRequest;
use envoy_types::pb::envoy::service::auth::v3::attribute_context::HttpRequest as Http;

/// The context extension (set per route in Envoy) naming the scope a
/// tenant API key needs for the route; without it, any key of the tenant.
pub const SCOPE_EXTENSION: &str = "tenantd_scope";

const AUTHORIZATION: &str = "authorization";

/// The HTTP request, as far as the gate cares.
#[derive(Debug)]
pub(super) struct HttpRequest<'a> {
    /// `Bearer …`, from `authorization` or made from `x-api-key`.
    credential: Option<Cow<'a, str>>,
    /// Which header carried the credential.
    credential_header: Option<&'static str>,
    tenant_id: Option<&'a str>,
    tenant_slug: Option<&'a str>,
    host: Option<&'a str>,
    request_id: &'a str,
    source_address: Option<IpAddr>,
    /// The scope the route asks of tenant keys.
    scope: &'static str,
}

/// Every value of header `name` in `http`.
fn values<'a>(http: &'a Http, name: &str) -> Vec<&'a [u8]> {
    match http
        .header_map
        .as_ref()
        .filter(|map| !map.headers.is_empty())
    {
        Some(map) => map
            .headers
            .iter()
            .filter(|header| header.key.eq_ignore_ascii_case(name))
            .map(|header| match header.value.is_empty() {
                true => header.raw_value.as_slice(),
                false => header.value.as_bytes(),
            })
            .collect(),
        None => http
            .headers
            .get(name)
            .map(String::as_bytes)
            .into_iter()
            .collect(),
    }
}

fn header<'a>(http: &'a Http, name: &str) -> Result<Option<&'a str>> {
    one_value(name, values(http, name))
}

/// The credential of `http` and the header it came in: a bearer token or
/// API key in `authorization` (or an end user's JWT, which the gate tells
/// apart), or a bare API key in `x-api-key`, never both.
fn credential(http: &Http) -> Result<Option<(Cow<'_, str>, &'static str)>> {
    let bearer = header(http, AUTHORIZATION)?;
    let key = header(http, API_KEY_HEADER)?;
    match (bearer, key) {
        (Some(_), Some(_)) => Err(Error::Unauthenticated {
            reason: "CREDENTIALS_AMBIGUOUS",
            message: "send one of authorization and x-api-key, not both".to_owned(),
        }),
        (Some(bearer), None) => Ok(Some((Cow::Borrowed(bearer), AUTHORIZATION))),
        (None, Some(key)) => Ok(Some((Cow::Owned(format!("Bearer {key}")), API_KEY_HEADER))),
        (None, None) => Ok(None),
    }
}

/// The scope the route asks for in its context extensions.
fn scope(check: &CheckRequest) -> Result<&'static str> {
    let asked = check
        .attributes
        .as_ref()
        .and_then(|attributes| attributes.context_extensions.get(SCOPE_EXTENSION));
    let Some(asked) = asked else {
        return Ok(ANY_SCOPE);
    };
    SCOPES
        .iter()
        .find(|scope| **scope == asked.as_str())
        .copied()
        .ok_or_else(|| {
            Error::invalid_field(
                format!("attributes.context_extensions.{SCOPE_EXTENSION}"),
                format!("is not a scope; scopes: {}", SCOPES.join(", ")),
            )
        })
}

/// Envoy's downstream address (`attributes.source.address`), when it is an
/// IP socket address.
fn source_address(check: &CheckRequest) -> Option<IpAddr> {
    let peer = check.attributes.as_ref()?.source.as_ref()?;
    match peer.address.as_ref()?.address.as_ref()? {
        Address::SocketAddress(socket) => socket.address.parse().ok(),
        _ => None,
    }
}

impl<'a> HttpRequest<'a> {
    /// Reads `check`, refusing ambiguous or malformed headers.
    pub(super) fn read(check: &'a CheckRequest) -> Result<Self> {
        static EMPTY: std::sync::LazyLock<Http> = std::sync::LazyLock::new(Http::default);
        let http = check
            .attributes
            .as_ref()
            .and_then(|attributes| attributes.request.as_ref())
            .and_then(|request| request.http.as_ref())
            .unwrap_or(&EMPTY);
        let credential = credential(http)?;
        let host = Some(http.host.as_str()).filter(|host| !host.is_empty());
        Ok(Self {
            credential_header: credential.as_ref().map(|(_, header)| *header),
            credential: credential.map(|(credential, _)| credential),
            tenant_id: header(http, TENANT_ID_HEADER)?,
            tenant_slug: header(http, TENANT_SLUG_HEADER)?,
            host: one_value("host", host.map(str::as_bytes))?,
            request_id: &http.id,
            source_address: source_address(check),
            scope: scope(check)?,
        })
    }

    /// What the gate reads.
    pub(super) fn call(&self) -> Call<'_> {
        Call {
            authorization: self.credential.as_deref(),
            tenant_id: self.tenant_id,
            tenant_slug: self.tenant_slug,
            authority: self.host,
            request_id: self.request_id,
            peer: self.source_address,
            // Envoy's downstream address already is the client's: Envoy
            // applies its own trusted hops to `x-forwarded-for`.
            headers: None,
            peer_service: None,
        }
    }

    /// The rule the request is admitted under: any caller tenantd knows,
    /// for one tenant; tenant keys within the route's scope.
    pub(super) fn rule(&self) -> MethodAccess {
        MethodAccess {
            service: ENVOY_AUTHORIZATION,
            method: "Check",
            service_callers: true,
            tenant_scope: Some(self.scope),
            target: Target::Tenant,
        }
    }

    /// The refusal of a request for which no tenant resolved: a host that
    /// is no tenant's, or nothing naming a tenant at all.
    pub(super) fn names_no_tenant(&self) -> Error {
        match self.host {
            Some(host) => not_found(&ResolveTarget::Host(host.to_owned())),
            None => Error::NotFound {
                kind: "tenant",
                name: "the request names no tenant".to_owned(),
            },
        }
    }

    /// The header that carried the credential, to remove upstream.
    pub(super) fn credential_headers(&self) -> Vec<String> {
        self.credential_header
            .map(str::to_owned)
            .into_iter()
            .collect()
    }
}
