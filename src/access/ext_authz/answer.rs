//! The answers to Envoy: OK with the upstream headers and dynamic
//! metadata, or a denial with an HTTP status and a JSON body. tenantd's
//! errors become HTTP statuses in [`http_status`], and nowhere else.

use envoy_types::pb::google::protobuf::{Struct, Value, value::Kind};
use envoy_types::pb::google::rpc::Status as RpcStatus;
use tonic_types::StatusExt;

use crate::access::caller::{ResolvedTenant, TenantContext};
use crate::access::ext_authz::ExtAuthzSettings;
use crate::error::Error;
use envoy_types::pb::envoy::config::core::v3::header_value_option::HeaderAppendAction;
use envoy_types::pb::envoy::config::core::v3::{HeaderValue, HeaderValueOption};
use envoy_types::pb::envoy::service::auth::v3::check_response::HttpResponse;
use envoy_types::pb::envoy::service::auth::v3::{
    CheckResponse, DeniedHttpResponse, OkHttpResponse,
};
use envoy_types::pb::envoy::r#type::v3::{HttpStatus, StatusCode};

/// The upstream header naming the tenant's id, after the prefix.
pub const HEADER_ID: &str = "id";
/// The upstream header naming the tenant's slug, after the prefix.
pub const HEADER_SLUG: &str = "slug";
/// The upstream header naming the tenant's plan, after the prefix.
pub const HEADER_PLAN: &str = "plan";
/// The upstream header naming the caller (`key:PREFIX`, `service:NAME`,
/// `admin:NAME`, as the audit log does), after the prefix.
pub const HEADER_CALLER: &str = "caller";
/// The keys of the dynamic metadata (namespace `envoy.filters.http.ext_authz`).
pub const METADATA_KEYS: [&str; 4] = ["tenant_id", "tenant_slug", "plan", "caller_kind"];

/// A header set upstream, replacing whatever the client sent under its
/// name: a client cannot choose its own tenant headers.
fn overwrite(key: String, value: String) -> HeaderValueOption {
    HeaderValueOption {
        header: Some(HeaderValue {
            key,
            value,
            ..Default::default()
        }),
        append_action: HeaderAppendAction::OverwriteIfExistsOrAdd.into(),
        ..Default::default()
    }
}

fn text(value: &str) -> Value {
    Value {
        kind: Some(Kind::StringValue(value.to_owned())),
    }
}

/// OK for `tenant`, the tenant of `context`, with `removed` headers taken
/// off the request.
pub(super) fn allowed(
    context: &TenantContext,
    tenant: &ResolvedTenant,
    settings: &ExtAuthzSettings,
    removed: Vec<String>,
) -> CheckResponse {
    let id = tenant.id.to_string();
    let values = [
        id.as_str(),
        tenant.slug.as_str(),
        tenant.plan.as_str(),
        context.caller.kind(),
    ];
    let prefix = &settings.header_prefix;
    let headers = [HEADER_ID, HEADER_SLUG, HEADER_PLAN, HEADER_CALLER]
        .iter()
        .zip([
            id.clone(),
            tenant.slug.clone(),
            tenant.plan.clone(),
            context.caller.actor(),
        ])
        .map(|(name, value)| overwrite(format!("{prefix}{name}"), value))
        .collect();
    let metadata = Struct {
        fields: METADATA_KEYS
            .iter()
            .zip(values)
            .map(|(key, value)| ((*key).to_owned(), text(value)))
            .collect(),
    };
    CheckResponse {
        status: Some(RpcStatus::default()),
        dynamic_metadata: Some(metadata),
        http_response: Some(HttpResponse::OkResponse(OkHttpResponse {
            headers,
            headers_to_remove: removed,
            ..Default::default()
        })),
    }
}

/// The HTTP status a gateway answers `code` with.
fn http_status(code: tonic::Code) -> StatusCode {
    use tonic::Code;
    match code {
        Code::Unauthenticated => StatusCode::Unauthorized,
        Code::PermissionDenied => StatusCode::Forbidden,
        Code::NotFound => StatusCode::NotFound,
        Code::ResourceExhausted => StatusCode::TooManyRequests,
        Code::InvalidArgument => StatusCode::BadRequest,
        // A tenant still provisioning (or failed) cannot serve yet.
        Code::Unavailable | Code::FailedPrecondition => StatusCode::ServiceUnavailable,
        _ => StatusCode::InternalServerError,
    }
}

/// The upper-snake name of `code`, as gRPC's JSON mapping writes it.
fn code_name(code: tonic::Code) -> String {
    let mut name = String::new();
    for (index, letter) in format!("{code:?}").char_indices() {
        if letter.is_ascii_uppercase() && index > 0 {
            name.push('_');
        }
        name.push(letter.to_ascii_uppercase());
    }
    name
}

/// The denial of a request `error` refuses: its HTTP status, and a JSON
/// body with the same code, reason and message as the gRPC API's.
pub(super) fn denied(error: Error) -> CheckResponse {
    let reason = error.reason();
    let status = error.into_status();
    let body = serde_json::json!({
        "code": code_name(status.code()),
        "reason": reason,
        "message": status.message(),
    });
    let mut headers = vec![overwrite(
        "content-type".to_owned(),
        "application/json".to_owned(),
    )];
    if let Some(retry) = status
        .get_details_retry_info()
        .and_then(|info| info.retry_delay)
    {
        let seconds = retry.as_secs() + u64::from(retry.subsec_nanos() > 0);
        headers.push(overwrite("retry-after".to_owned(), seconds.to_string()));
    }
    CheckResponse {
        status: Some(RpcStatus {
            code: status.code().into(),
            message: status.message().to_owned(),
            ..Default::default()
        }),
        dynamic_metadata: None,
        http_response: Some(HttpResponse::DeniedResponse(DeniedHttpResponse {
            status: Some(HttpStatus {
                code: http_status(status.code()).into(),
            }),
            headers,
            body: body.to_string(),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_named_as_grpc_json_names_them() {
        assert_eq!(
            code_name(tonic::Code::PermissionDenied),
            "PERMISSION_DENIED"
        );
        assert_eq!(code_name(tonic::Code::NotFound), "NOT_FOUND");
        assert_eq!(code_name(tonic::Code::Unauthenticated), "UNAUTHENTICATED");
    }

    #[test]
    fn a_denial_carries_status_reason_and_json() {
        let answer = denied(Error::PermissionDenied {
            reason: "TENANT_SUSPENDED",
            message: "tenant tenants/x is suspended".to_owned(),
        });
        assert_eq!(answer.status.expect("a status").code, 7);
        let Some(HttpResponse::DeniedResponse(denied)) = answer.http_response else {
            panic!("a denial");
        };
        assert_eq!(denied.status.expect("a status").code, 403);
        let body: serde_json::Value = serde_json::from_str(&denied.body).expect("json");
        assert_eq!(body["reason"], "TENANT_SUSPENDED");
        assert_eq!(body["code"], "PERMISSION_DENIED");
    }
}
