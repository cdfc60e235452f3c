//! Envoy's external authorization over real gRPC, with the client
//! generated from Envoy's own protos: the HTTP request's credential and
//! host are admitted as tenantd's own calls are, and the verdict carries
//! the upstream headers and metadata, or an HTTP denial with a JSON body
//! holding the gRPC API's reason.

mod client;
mod identity;

use tenantd::envoy::service::auth::v3::check_response::HttpResponse;
use tenantd::pb;
use tenantd::settings::BudgetSettings;

use crate::context::{issue_key, suspend};
use crate::support::dns::TestDns;
use crate::support::fixtures::{create, create_domain};
use crate::support::server::SERVICE_TOKEN;
use crate::support::{Backend, TestServer};
use client::{Allowed, Http, allowed, ask, check_request, denied, send};

const BASE_DOMAIN: &str = "tenants.example.net";

crate::backend_tests!(
    credentials_and_hosts_are_admitted_with_the_tenant_upstream,
    refused_requests_are_denied_with_the_api_reason,
);

fn assert_tenant(allowed: &Allowed, tenant: &pb::Tenant, caller: &str, kind: &str) {
    let expected = [
        ("x-tenant-id", tenant.id.as_str()),
        ("x-tenant-slug", tenant.slug.as_str()),
        ("x-tenant-plan", "starter"),
        ("x-tenant-caller", caller),
    ];
    for (name, value) in expected {
        assert_eq!(
            allowed.headers.get(name).map(String::as_str),
            Some(value),
            "{name}"
        );
    }
    let metadata = [
        ("tenant_id", tenant.id.as_str()),
        ("tenant_slug", tenant.slug.as_str()),
        ("plan", "starter"),
        ("caller_kind", kind),
    ];
    for (key, value) in metadata {
        assert_eq!(
            allowed.metadata.get(key).map(String::as_str),
            Some(value),
            "{key}"
        );
    }
}

async fn start(
    backend: Backend,
    dns: &TestDns,
    adjust: impl FnOnce(&mut tenantd::settings::Config),
) -> TestServer {
    let resolver = dns.address;
    TestServer::start_with(backend, move |config| {
        config.base_domain = Some(BASE_DOMAIN.to_owned());
        config.dns_resolver = Some(resolver);
        adjust(config);
    })
    .await
}

async fn credentials_and_hosts_are_admitted_with_the_tenant_upstream(backend: Backend) {
    let dns = TestDns::start().await;
    let server = start(backend, &dns, |config| {
        config.ext_authz.strip_credentials = true
    })
    .await;
    let mut operator = server.tenants();
    let acme = create(&mut operator, "acme").await;
    let (secret, key) = issue_key(&mut operator, &acme.name, &["config:read"]).await;
    let key_caller = format!("key:{}", key.prefix.trim_start_matches("tdk_"));
    let bearer = format!("Bearer {secret}");

    let by_authorization = Http {
        headers: &[("authorization", &bearer)],
        host: "gw.example.org",
        header_map: false,
    };
    let answer = allowed(ask(&server, by_authorization).await);
    assert_tenant(&answer, &acme, &key_caller, "tenant");
    assert_eq!(answer.removed, ["authorization"]);

    let by_api_key = Http {
        headers: &[("x-api-key", &secret)],
        host: "gw.example.org",
        header_map: true,
    };
    let answer = allowed(ask(&server, by_api_key).await);
    assert_tenant(&answer, &acme, &key_caller, "tenant");
    assert_eq!(answer.removed, ["x-api-key"]);

    let service = format!("Bearer {SERVICE_TOKEN}");
    let by_id = Http {
        headers: &[("authorization", &service), ("x-tenant-id", &acme.id)],
        host: "gw.example.org",
        header_map: false,
    };
    assert_tenant(
        &allowed(ask(&server, by_id).await),
        &acme,
        "service:test-service",
        "service",
    );

    let domain = create_domain(&mut operator, &acme.name, "shop.example.com").await;
    dns.publish_txt(
        &domain.verification_record_name,
        &domain.verification_record_value,
    );
    operator
        .verify_domain(pb::VerifyDomainRequest {
            name: domain.name.clone(),
        })
        .await
        .expect("verify");
    let by_domain = Http {
        headers: &[("authorization", &service)],
        host: "shop.example.com:443",
        header_map: false,
    };
    assert_tenant(
        &allowed(ask(&server, by_domain).await),
        &acme,
        "service:test-service",
        "service",
    );

    let subdomain = format!("acme.{BASE_DOMAIN}");
    let by_subdomain = Http {
        headers: &[("authorization", &service)],
        host: &subdomain,
        header_map: false,
    };
    assert_tenant(
        &allowed(ask(&server, by_subdomain).await),
        &acme,
        "service:test-service",
        "service",
    );

    // A route may ask a scope of keys (in its context extensions).
    let mut scoped = check_request(&Http {
        headers: &[("authorization", &bearer)],
        host: "",
        header_map: false,
    });
    let extensions = &mut scoped
        .attributes
        .as_mut()
        .expect("attributes")
        .context_extensions;
    extensions.insert("tenantd_scope".to_owned(), "usage:write".to_owned());
    let answer = send(&server, scoped).await;
    let (status, _, body) = denied(answer);
    assert_eq!(
        (status, body["reason"].as_str()),
        (403, Some("SCOPE_MISSING"))
    );
    server.stop().await;
}

/// A refused request's headers and host, and its HTTP status, gRPC code
/// and reason.
type Denial<'a> = (&'a [(&'a str, &'a str)], &'a str, i32, i32, &'a str);

async fn refused_requests_are_denied_with_the_api_reason(backend: Backend) {
    let dns = TestDns::start().await;
    let server = start(backend, &dns, |_| {}).await;
    let mut operator = server.tenants();
    let acme = create(&mut operator, "acme").await;
    let globex = create(&mut operator, "globex").await;
    let (globex_key, _) = issue_key(&mut operator, &globex.name, &["config:read"]).await;
    let initech = create(&mut operator, "initech").await;
    let (initech_key, _) = issue_key(&mut operator, &initech.name, &["config:read"]).await;
    suspend(&mut operator, &initech.name).await;
    let service = format!("Bearer {SERVICE_TOKEN}");
    let (globex_bearer, initech_bearer) = (
        format!("Bearer {globex_key}"),
        format!("Bearer {initech_key}"),
    );
    let wrong = format!("Bearer tdk_0123456789abcdef_{}", "0".repeat(43));

    let cases: [Denial; 6] = [
        (
            &[("authorization", &initech_bearer)],
            "",
            403,
            7,
            "TENANT_SUSPENDED",
        ),
        (
            &[("authorization", &service), ("x-tenant-id", &initech.id)],
            "",
            403,
            7,
            "TENANT_SUSPENDED",
        ),
        (
            &[("authorization", &wrong)],
            "",
            401,
            16,
            "CREDENTIALS_INVALID",
        ),
        (
            &[("authorization", &globex_bearer), ("x-tenant-id", &acme.id)],
            "",
            403,
            7,
            "TENANT_MISMATCH",
        ),
        (
            &[("authorization", &service)],
            "nobody.example.org",
            404,
            5,
            "TENANT_NOT_FOUND",
        ),
        (
            &[],
            "acme.tenants.example.net",
            401,
            16,
            "CREDENTIALS_MISSING",
        ),
    ];
    for (headers, host, http_status, grpc_code, reason) in cases {
        let answer = ask(
            &server,
            Http {
                headers,
                host,
                header_map: false,
            },
        )
        .await;
        let (status, code, body) = denied(answer);
        assert_eq!((status, code), (http_status, grpc_code), "{reason}: {body}");
        assert_eq!(body["reason"], reason, "{body}");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|message| !message.is_empty())
        );
    }
    server.stop().await;
}

/// A tenant over its bulkhead is told so with 429 and when to retry: the
/// gateway's requests spend the tenant's own budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_over_its_budget_is_denied_429() {
    let dns = TestDns::start().await;
    let server = start(Backend::Sqlite, &dns, |config| {
        config.tenant_budget = BudgetSettings {
            max_concurrent_calls: 0,
            rate_per_second: 1,
        };
    })
    .await;
    let mut operator = server.tenants();
    let acme = create(&mut operator, "acme").await;
    let service = format!("Bearer {SERVICE_TOKEN}");
    let http = || Http {
        headers: &[],
        host: "",
        header_map: false,
    };
    let request = [
        ("authorization", service.as_str()),
        ("x-tenant-id", acme.id.as_str()),
    ];
    allowed(
        ask(
            &server,
            Http {
                headers: &request,
                ..http()
            },
        )
        .await,
    );
    let answer = ask(
        &server,
        Http {
            headers: &request,
            ..http()
        },
    )
    .await;
    let Some(HttpResponse::DeniedResponse(denial)) = &answer.http_response else {
        panic!("not denied: {answer:?}");
    };
    let retry = denial
        .headers
        .iter()
        .filter_map(|option| option.header.as_ref());
    assert!(
        retry.clone().any(|header| header.key == "retry-after"),
        "{denial:?}"
    );
    let (status, code, body) = denied(answer);
    assert_eq!((status, code), (429, 8));
    assert_eq!(body["reason"], "TENANT_RATE_EXCEEDED");
    server.stop().await;
}
