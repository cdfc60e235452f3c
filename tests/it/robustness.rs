//! Hostile input: every TenantService method, and every flag method of
//! ConfigService ([`crate::robustness_flags`]), is called with strings and
//! numbers no client should send. Each call must be answered with success
//! or a caller's-mistake status, never INTERNAL, UNKNOWN or a broken call
//! (what a panic or an unclassified database error becomes), and the server
//! must go on serving.

use tenantd::pb;
use tenantd::pb::resolve_tenant_request::Target;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::support::fixtures::{Client, create, mask};
use crate::support::{Backend, TestServer};

fn hostile_strings(tenant_name: &str) -> Vec<String> {
    vec![
        String::new(),
        " ".into(),
        "\0".into(),
        "a\0b".into(),
        "x".repeat(100_000),
        "é".repeat(300),
        "\u{202e}evil\u{202d}".into(),
        "🦀🦀🦀".into(),
        "' OR 1=1 --".into(),
        "\"; DROP TABLE tenants; --".into(),
        "%".into(),
        "_".into(),
        "tenants/".into(),
        "tenants/-".into(),
        "tenants/slug:".into(),
        "tenants/slug:../../etc/passwd".into(),
        "tenants/slug:ACME".into(),
        format!("{tenant_name}/domains/"),
        format!("{tenant_name}/domains/..%2f"),
        format!("{tenant_name}/apiKeys/"),
        format!("{tenant_name}/apiKeys/ffffffff-ffff-ffff-ffff-ffffffffffff"),
        "labels.env = \"".into(),
        "labels.env = \"a\0b\"".into(),
        "plan = \"\0\"".into(),
        "action = \"\0\" AND actor = \"\u{7f}\"".into(),
        "state = ".into(),
        "((((((((".into(),
        "create_time >= \"9999-99-99T99:99:99Z\"".into(),
        "00000000-0000-0000-0000-000000000000".into(),
    ]
}

/// What a call may answer: success or a caller's mistake. A panic shows as
/// INTERNAL (the server's panic guard) or as a broken call, a database
/// error that slipped through as INTERNAL.
const CLEAR_ANSWERS: [Code; 6] = [
    Code::Ok,
    Code::InvalidArgument,
    Code::NotFound,
    Code::AlreadyExists,
    Code::FailedPrecondition,
    Code::Aborted,
];

const HOSTILE_NUMBERS: [i32; 4] = [i32::MIN, -1, 0, i32::MAX];

/// Records the code of a refused call; a success is fine too.
fn code<T>(outcome: Result<tonic::Response<T>, tonic::Status>) -> Code {
    match outcome {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

async fn every_method(
    client: &mut Client,
    text: &str,
    number: i32,
    tenant: &pb::Tenant,
) -> Vec<(&'static str, Code)> {
    let text = text.to_owned();
    let odd_tenant = pb::Tenant {
        name: text.clone(),
        id: text.clone(),
        slug: text.clone(),
        display_name: text.clone(),
        plan: text.clone(),
        etag: text.clone(),
        labels: [(text.clone(), text.clone())].into(),
        ..Default::default()
    };
    // A thousand labels of the long strings would exceed any message limit.
    let short: String = text.chars().take(300).collect();
    let domain = Some(pb::Domain {
        hostname: text.clone(),
        ..Default::default()
    });
    vec![
        (
            "CreateTenant",
            code(
                client
                    .create_tenant(pb::CreateTenantRequest {
                        tenant: Some(odd_tenant.clone()),
                        tenant_id: text.clone(),
                        request_id: text.clone(),
                        initial_admin_email: text.clone(),
                        onboarding_attributes: [(text.clone(), text.clone())].into(),
                    })
                    .await,
            ),
        ),
        (
            "CreateTenant",
            code(
                client
                    .create_tenant(pb::CreateTenantRequest {
                        tenant: Some(pb::Tenant {
                            slug: "many-labels".into(),
                            labels: (0..1000)
                                .map(|index| (format!("{short}{index}"), short.clone()))
                                .collect(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    })
                    .await,
            ),
        ),
        (
            "GetTenant",
            code(
                client
                    .get_tenant(pb::GetTenantRequest { name: text.clone() })
                    .await,
            ),
        ),
        (
            "ListTenants",
            code(
                client
                    .list_tenants(pb::ListTenantsRequest {
                        page_size: number,
                        page_token: String::new(),
                        filter: text.clone(),
                        show_deleted: true,
                    })
                    .await,
            ),
        ),
        (
            "ListTenants",
            code(
                client
                    .list_tenants(pb::ListTenantsRequest {
                        page_size: number,
                        page_token: text.clone(),
                        ..Default::default()
                    })
                    .await,
            ),
        ),
        (
            "UpdateTenant",
            code(
                client
                    .update_tenant(pb::UpdateTenantRequest {
                        // No etag, so the odd values reach storage.
                        tenant: Some(pb::Tenant {
                            name: tenant.name.clone(),
                            etag: String::new(),
                            ..odd_tenant.clone()
                        }),
                        update_mask: mask(&[&text, "display_name", "labels"]),
                    })
                    .await,
            ),
        ),
        (
            "SuspendTenant",
            code(
                client
                    .suspend_tenant(pb::SuspendTenantRequest {
                        name: tenant.name.clone(),
                        reason: text.clone(),
                        etag: String::new(),
                    })
                    .await,
            ),
        ),
        (
            "CreateDomain",
            code(
                client
                    .create_domain(pb::CreateDomainRequest {
                        parent: tenant.name.clone(),
                        domain: domain.clone(),
                    })
                    .await,
            ),
        ),
        (
            "ListDomains",
            code(
                client
                    .list_domains(pb::ListDomainsRequest {
                        parent: text.clone(),
                        page_size: number,
                        page_token: text.clone(),
                    })
                    .await,
            ),
        ),
        (
            "DeleteDomain",
            code(
                client
                    .delete_domain(pb::DeleteDomainRequest { name: text.clone() })
                    .await,
            ),
        ),
        (
            "VerifyDomain",
            code(
                client
                    .verify_domain(pb::VerifyDomainRequest { name: text.clone() })
                    .await,
            ),
        ),
        (
            "CreateApiKey",
            code(
                client
                    .create_api_key(pb::CreateApiKeyRequest {
                        parent: tenant.name.clone(),
                        api_key: Some(pb::ApiKey {
                            display_name: text.clone(),
                            scopes: vec![text.clone()],
                            expire_time: Some(prost_types::Timestamp {
                                seconds: i64::from(number) * 1_000_000_000,
                                nanos: number,
                            }),
                            ..Default::default()
                        }),
                    })
                    .await,
            ),
        ),
        (
            "ListApiKeys",
            code(
                client
                    .list_api_keys(pb::ListApiKeysRequest {
                        parent: text.clone(),
                        page_size: number,
                        page_token: text.clone(),
                        show_revoked: true,
                    })
                    .await,
            ),
        ),
        (
            "RevokeApiKey",
            code(
                client
                    .revoke_api_key(pb::RevokeApiKeyRequest { name: text.clone() })
                    .await,
            ),
        ),
        (
            "RotateApiKey",
            code(
                client
                    .rotate_api_key(pb::RotateApiKeyRequest {
                        name: text.clone(),
                        overlap: Some(prost_types::Duration {
                            seconds: i64::from(number) * 1_000_000_000,
                            nanos: number,
                        }),
                    })
                    .await,
            ),
        ),
        (
            "ListAuditEvents",
            code(
                client
                    .list_audit_events(pb::ListAuditEventsRequest {
                        parent: "tenants/-".into(),
                        page_size: number,
                        page_token: String::new(),
                        filter: text.clone(),
                    })
                    .await,
            ),
        ),
        (
            "ResolveTenant",
            code(
                client
                    .resolve_tenant(pb::ResolveTenantRequest {
                        target: Some(Target::Host(text.clone())),
                    })
                    .await,
            ),
        ),
        (
            "DeleteTenant",
            code(
                client
                    .delete_tenant(pb::DeleteTenantRequest {
                        name: text.clone(),
                        etag: text.clone(),
                    })
                    .await,
            ),
        ),
        (
            "UndeleteTenant",
            code(
                client
                    .undelete_tenant(pb::UndeleteTenantRequest {
                        name: text.clone(),
                        etag: text,
                    })
                    .await,
            ),
        ),
    ]
}

async fn hostile_input_gets_clear_answers(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = server.tenants();
    let acme = create(&mut client, "acme").await;
    let mut flags = crate::support::flags::admin(&server.channel);
    let sweep = crate::support::flags::boolean_flag(Vec::new());
    crate::support::flags::create_flag(&mut flags, "sweep", sweep).await;
    for (index, text) in hostile_strings(&acme.name).iter().enumerate() {
        let number = HOSTILE_NUMBERS[index % HOSTILE_NUMBERS.len()];
        let mut answers = every_method(&mut client, text, number, &acme).await;
        answers.extend(
            crate::robustness_flags::every_flag_method(&server.channel, text, number, &acme.name)
                .await,
        );
        for (method, answered) in answers {
            assert!(
                CLEAR_ANSWERS.contains(&answered),
                "{method} answered {answered:?} for {:?} / {number}",
                text.chars().take(60).collect::<String>()
            );
        }
    }
    let health = HealthClient::new(server.channel.clone())
        .check(HealthCheckRequest::default())
        .await
        .expect("still serving")
        .into_inner();
    assert_eq!(health.status, 1, "SERVING");
    let still_there = client
        .get_tenant(pb::GetTenantRequest {
            name: acme.name.clone(),
        })
        .await
        .expect("the tenant is intact")
        .into_inner();
    assert_eq!(still_there.slug, "acme");
    server.stop().await;
}

crate::backend_tests!(hostile_input_gets_clear_answers);
