//! Traces by the OpenTelemetry semantic conventions, as a collector
//! receives them from the `tenantd` binary: every call is a SERVER span
//! named `{package.Service}/{Method}` with the `rpc.*` attributes, its gRPC
//! status code and, on failures, `error.type` (an ERROR status for server
//! failures only), in the trace of the caller's `traceparent`; database
//! transactions, Redis calls and JWKS fetches are CLIENT children of the
//! call, and the fetch carries the trace on to the identity provider.

mod collector;
mod peers;

use jsonwebtoken::Algorithm;
use serde_json::json;
use tenantd::pb;
use tenantd::pb::quota_service_client::QuotaServiceClient;
use tenantd::pb::tenant_service_client::TenantServiceClient;
use tonic::Code;
use tonic::transport::Channel;

use crate::quota::definition;
use crate::support::Backend;
use crate::support::db::TestDatabase;
use crate::support::fixtures::{Client, create, name_request, tenant};
use crate::support::jwt::{AUDIENCE, ISSUER, RSA_1, now, rsa, sign};
use crate::support::raw::{self, Presented, Shape};
use crate::support::server::{ADMIN_TOKEN, Credentials};
use collector::{Collector, Span, SpanKind, hex, int, is_child_of, is_error, is_kind, text};
use peers::{DownIssuer, Traced, Traceparent};

async fn channel(port: u16) -> Channel {
    crate::process::connect(port).await
}

/// The operator's credentials, sent from `caller`'s span.
fn admin_from(caller: &Traceparent) -> Credentials {
    Credentials::bearer(ADMIN_TOKEN).with("traceparent", &caller.header())
}

fn tenants(channel: &Channel, credentials: Credentials) -> Client {
    TenantServiceClient::with_interceptor(channel.clone(), credentials)
}

/// The span of the call to `method` (`TenantService/GetTenant`) that
/// `caller` made.
async fn call_span(collector: &Collector, method: &str, caller: &Traceparent) -> Span {
    let name = format!("tenantd.v1.{method}");
    collector
        .span(&name, |span| {
            span.name == name && hex(&span.trace_id) == caller.trace_id
        })
        .await
}

/// Asserts the conventions every call span follows: SERVER, a child of
/// the caller's span, `rpc.*` naming `method`, and its outcome: the gRPC
/// status code and the `error.type` it names (none for OK).
fn assert_call(
    span: &Span,
    method: &str,
    caller: &Traceparent,
    (code, error_type): (i64, Option<&str>),
) {
    assert!(is_kind(span, SpanKind::Server), "{span:?}");
    assert_eq!(hex(&span.parent_span_id), caller.span_id, "{span:?}");
    let (service, short) = method.split_once('/').expect("Service/Method");
    let service = format!("tenantd.v1.{service}");
    assert_eq!(text(span, "rpc.system"), Some("grpc"));
    assert_eq!(text(span, "rpc.service"), Some(service.as_str()));
    assert_eq!(text(span, "rpc.method"), Some(short));
    assert_eq!(int(span, "rpc.grpc.status_code"), Some(code), "{span:?}");
    assert_eq!(text(span, "error.type"), error_type, "{span:?}");
}

/// The child of `call` that `wanted` accepts: a CLIENT span.
async fn client_child(
    collector: &Collector,
    what: &str,
    call: &Span,
    wanted: impl Fn(&Span) -> bool,
) -> Span {
    let child = collector
        .span(what, |span| is_child_of(span, call) && wanted(span))
        .await;
    assert!(is_kind(&child, SpanKind::Client), "{child:?}");
    child
}

/// A write continues the caller's trace, names its caller, and its
/// transaction is a child span that names the database and holds none of
/// the values written.
async fn a_write(
    collector: &Collector,
    channel: &Channel,
    backend: Backend,
    url: &str,
) -> pb::Tenant {
    let caller = Traceparent::random();
    let created = create(&mut tenants(channel, admin_from(&caller)), "traced-write").await;
    let call = call_span(collector, "TenantService/CreateTenant", &caller).await;
    assert_call(&call, "TenantService/CreateTenant", &caller, (0, None));
    assert_eq!(text(&call, "caller.kind"), Some("admin"));
    assert_eq!(text(&call, "caller.name"), Some("ops"));
    assert!(!is_error(&call), "{call:?}");

    let transaction = client_child(collector, "CreateTenant's transaction", &call, |span| {
        text(span, "tenantd.transaction.mode") == Some("write")
    })
    .await;
    assert_eq!(text(&transaction, "db.operation.name"), Some("transaction"));
    let (system, namespace) = match backend {
        Backend::Sqlite => ("sqlite", None),
        Backend::Postgres => ("postgresql", url.rsplit('/').next()),
    };
    assert_eq!(text(&transaction, "db.system.name"), Some(system));
    assert_eq!(text(&transaction, "db.namespace"), namespace);
    let span_name = namespace.map_or("transaction".to_owned(), |name| {
        format!("transaction {name}")
    });
    assert_eq!(transaction.name, span_name);
    for attribute in &transaction.attributes {
        let value = format!("{:?}", attribute.value);
        assert!(
            !value.contains("traced-write"),
            "a value written: {attribute:?}"
        );
    }
    created
}

/// A read of one tenant carries the tenant; a caller's mistake carries its
/// code and `error.type` but is not an ERROR.
async fn a_read_and_a_mistake(collector: &Collector, channel: &Channel, tenant: &pb::Tenant) {
    let caller = Traceparent::random();
    let credentials = admin_from(&caller).with("x-tenant-id", &tenant.id);
    tenants(channel, credentials)
        .get_tenant(name_request(&tenant.name))
        .await
        .expect("read the tenant");
    let call = call_span(collector, "TenantService/GetTenant", &caller).await;
    assert_call(&call, "TenantService/GetTenant", &caller, (0, None));
    assert_eq!(text(&call, "tenant.id"), Some(tenant.id.as_str()));

    let caller = Traceparent::random();
    let missing = format!("tenants/{}", uuid::Uuid::now_v7());
    let refused = tenants(channel, admin_from(&caller))
        .get_tenant(name_request(&missing))
        .await
        .expect_err("no such tenant");
    assert_eq!(refused.code(), Code::NotFound, "{refused:?}");
    let call = call_span(collector, "TenantService/GetTenant", &caller).await;
    assert_call(
        &call,
        "TenantService/GetTenant",
        &caller,
        (5, Some("NOT_FOUND")),
    );
    assert!(
        !is_error(&call),
        "a caller's mistake is not the server's failure"
    );
}

/// A user's call while the identity provider is down fails UNAVAILABLE, an
/// ERROR; the JWKS fetch is its child, and the provider was sent that
/// child's trace context.
async fn a_server_failure(
    collector: &Collector,
    channel: &Channel,
    issuer: &DownIssuer,
    tenant: &pb::Tenant,
) {
    let caller = Traceparent::random();
    let claims = json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "traced-user",
        "org_id": tenant.id, "exp": now() + 600,
    });
    let token = sign("traced-key", Algorithm::RS256, &rsa(RSA_1), &claims);
    let credentials = Credentials::bearer(&token).with("traceparent", &caller.header());
    let refused = tenants(channel, credentials)
        .get_tenant(name_request(&tenant.name))
        .await
        .expect_err("the issuer is down");
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    let call = call_span(collector, "TenantService/GetTenant", &caller).await;
    assert_call(
        &call,
        "TenantService/GetTenant",
        &caller,
        (14, Some("UNAVAILABLE")),
    );
    assert!(
        is_error(&call),
        "UNAVAILABLE is the server's failure: {call:?}"
    );

    let fetch = client_child(collector, "the JWKS fetch", &call, |span| {
        span.name == "GET"
    })
    .await;
    assert_eq!(text(&fetch, "http.request.method"), Some("GET"));
    assert_eq!(text(&fetch, "server.address"), Some("127.0.0.1"));
    assert_eq!(int(&fetch, "http.response.status_code"), Some(500));
    assert_eq!(text(&fetch, "error.type"), Some("500"));
    assert!(is_error(&fetch), "{fetch:?}");
    let sent = format!("00-{}-{}-01", caller.trace_id, hex(&fetch.span_id));
    assert_eq!(issuer.traceparents(), [Some(sent)]);
}

/// A quota check is answered (degraded) while Redis is away; its Redis
/// call is a child span that failed.
async fn a_redis_call(collector: &Collector, channel: &Channel) {
    let mut quotas =
        QuotaServiceClient::with_interceptor(channel.clone(), Credentials::bearer(ADMIN_TOKEN));
    let plan = pb::Plan {
        display_name: "traced".to_owned(),
        quotas: vec![definition("seats", pb::QuotaKind::Allocation, 10)],
        ..Default::default()
    };
    let request = pb::CreatePlanRequest {
        plan: Some(plan),
        plan_id: "traced".to_owned(),
        request_id: String::new(),
    };
    quotas.create_plan(request).await.expect("create the plan");
    let mut on_plan = tenant("traced-quota");
    on_plan.plan = "traced".to_owned();
    let request = pb::CreateTenantRequest {
        tenant: Some(on_plan),
        ..Default::default()
    };
    let parent = tenants(channel, Credentials::bearer(ADMIN_TOKEN))
        .create_tenant(request)
        .await
        .expect("create the tenant")
        .into_inner()
        .name;

    let caller = Traceparent::random();
    let check = pb::CheckQuotaRequest {
        parent,
        costs: vec![pb::QuotaCost {
            quota: "seats".to_owned(),
            cost: 1,
        }],
        ..Default::default()
    };
    let answer = QuotaServiceClient::with_interceptor(channel.clone(), admin_from(&caller))
        .check_quota(check)
        .await
        .expect("checked, degraded")
        .into_inner();
    assert!(answer.degraded, "{answer:?}");
    let call = call_span(collector, "QuotaService/CheckQuota", &caller).await;
    assert_call(&call, "QuotaService/CheckQuota", &caller, (0, None));
    assert!(!is_error(&call), "{call:?}");
    let redis = client_child(collector, "the Redis call", &call, |span| {
        text(span, "db.system.name") == Some("redis")
    })
    .await;
    assert_eq!(redis.name, "EVALSHA");
    assert_eq!(text(&redis, "db.operation.name"), Some("EVALSHA"));
    assert_eq!(text(&redis, "db.namespace"), Some("0"));
    assert_eq!(text(&redis, "error.type"), Some("UNAVAILABLE"));
    assert!(is_error(&redis), "{redis:?}");
}

/// A method tenantd does not serve is UNIMPLEMENTED, an ERROR, and its
/// span is `_OTHER`: the caller's made-up name names no span.
async fn an_unknown_method(collector: &Collector, channel: &Channel) {
    let presented = Presented {
        secret: Some(ADMIN_TOKEN.to_owned()),
        tenant_id: None,
    };
    let unary = Shape {
        client_streaming: false,
        server_streaming: false,
    };
    let answer = raw::call(
        channel,
        "/tenantd.v1.TenantService/MadeUpMethod",
        unary,
        &presented,
        Vec::new(),
    )
    .await;
    assert_eq!(answer.expect_err("unknown").code(), Code::Unimplemented);
    let call = collector.span("_OTHER", |span| span.name == "_OTHER").await;
    assert!(is_kind(&call, SpanKind::Server), "{call:?}");
    assert_eq!(text(&call, "rpc.method"), Some("_OTHER"));
    assert_eq!(int(&call, "rpc.grpc.status_code"), Some(12));
    assert_eq!(text(&call, "error.type"), Some("UNIMPLEMENTED"));
    assert!(is_error(&call), "{call:?}");
    assert!(
        collector
            .spans()
            .iter()
            .all(|span| !span.name.contains("MadeUp"))
    );
}

async fn calls_are_traced_by_the_conventions(backend: Backend) {
    let collector = Collector::start().await;
    let issuer = DownIssuer::start().await;
    let database = TestDatabase::create(backend).await;
    let server = Traced::start(&database, &collector, &issuer).await;
    let channel = channel(server.port).await;

    let tenant = a_write(&collector, &channel, backend, &database.url).await;
    a_read_and_a_mistake(&collector, &channel, &tenant).await;
    a_server_failure(&collector, &channel, &issuer, &tenant).await;
    a_redis_call(&collector, &channel).await;
    an_unknown_method(&collector, &channel).await;

    drop(server);
    database.drop_database().await;
}

crate::backend_tests!(calls_are_traced_by_the_conventions);
