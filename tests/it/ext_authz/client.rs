//! The gateway's side: a CheckRequest as Envoy builds it for one HTTP
//! request, sent with the client generated from Envoy's protos, and the
//! verdict read back.

use std::collections::HashMap;

use tenantd::envoy::config::core::v3::address::Address as Kind;
use tenantd::envoy::config::core::v3::{Address, HeaderMap, HeaderValue, SocketAddress};
use tenantd::envoy::service::auth::v3::attribute_context::{HttpRequest, Peer, Request};
use tenantd::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use tenantd::envoy::service::auth::v3::check_response::HttpResponse;
use tenantd::envoy::service::auth::v3::{AttributeContext, CheckRequest, CheckResponse};

use crate::support::TestServer;
use crate::support::server::{Credentials, SERVICE_TOKEN};

/// What a gateway sends for one HTTP request.
pub(super) struct Http<'a> {
    pub(super) headers: &'a [(&'a str, &'a str)],
    pub(super) host: &'a str,
    /// Whether the headers go in `header_map`, as newer Envoy sends them.
    pub(super) header_map: bool,
}

pub(super) fn check_request(http: &Http<'_>) -> CheckRequest {
    let owned = |(key, value): &(&str, &str)| ((*key).to_owned(), (*value).to_owned());
    let mut request = HttpRequest {
        id: "request-1".to_owned(),
        method: "GET".to_owned(),
        path: "/orders".to_owned(),
        host: http.host.to_owned(),
        ..Default::default()
    };
    if http.header_map {
        let headers = http.headers.iter().map(owned);
        request.header_map = Some(HeaderMap {
            headers: headers
                .map(|(key, value)| HeaderValue {
                    key,
                    value,
                    ..Default::default()
                })
                .collect(),
        });
    } else {
        request.headers = http.headers.iter().map(owned).collect();
    }
    let source = SocketAddress {
        address: "203.0.113.7".to_owned(),
        ..Default::default()
    };
    CheckRequest {
        attributes: Some(AttributeContext {
            source: Some(Peer {
                address: Some(Address {
                    address: Some(Kind::SocketAddress(source)),
                }),
                ..Default::default()
            }),
            request: Some(Request {
                http: Some(request),
                ..Default::default()
            }),
            ..Default::default()
        }),
    }
}

pub(super) async fn send(server: &TestServer, request: CheckRequest) -> CheckResponse {
    let credentials = Credentials::bearer(SERVICE_TOKEN);
    AuthorizationClient::with_interceptor(server.channel.clone(), credentials)
        .check(request)
        .await
        .expect("a verdict, not a gRPC error")
        .into_inner()
}

pub(super) async fn ask(server: &TestServer, http: Http<'_>) -> CheckResponse {
    send(server, check_request(&http)).await
}

/// An OK verdict's headers set upstream, headers removed, and metadata.
pub(super) struct Allowed {
    pub(super) headers: HashMap<String, String>,
    pub(super) removed: Vec<String>,
    pub(super) metadata: HashMap<String, String>,
}

pub(super) fn allowed(answer: CheckResponse) -> Allowed {
    assert_eq!(answer.status.as_ref().map(|status| status.code), Some(0));
    let Some(HttpResponse::OkResponse(ok)) = answer.http_response else {
        panic!("not OK: {answer:?}");
    };
    let headers = ok.headers.into_iter().filter_map(|option| {
        // Upstream headers replace what the client sent under their names.
        assert_eq!(option.append_action, 2, "{option:?}");
        option.header.map(|header| (header.key, header.value))
    });
    let metadata = answer.dynamic_metadata.expect("metadata").fields;
    let text = |value: envoy_types::pb::google::protobuf::Value| match value.kind {
        Some(envoy_types::pb::google::protobuf::value::Kind::StringValue(text)) => text,
        other => panic!("not text: {other:?}"),
    };
    Allowed {
        headers: headers.collect(),
        removed: ok.headers_to_remove,
        metadata: metadata.into_iter().map(|(k, v)| (k, text(v))).collect(),
    }
}

/// A denial's HTTP status, gRPC code and JSON body.
pub(super) fn denied(answer: CheckResponse) -> (i32, i32, serde_json::Value) {
    let Some(HttpResponse::DeniedResponse(denied)) = answer.http_response else {
        panic!("not denied: {answer:?}");
    };
    let content_type = denied
        .headers
        .iter()
        .filter_map(|option| option.header.as_ref());
    assert!(
        content_type
            .clone()
            .any(|header| header.key == "content-type" && header.value == "application/json")
    );
    let body = serde_json::from_str(&denied.body).expect("a JSON body");
    let status = denied.status.expect("an HTTP status").code;
    (status, answer.status.expect("a status").code, body)
}
