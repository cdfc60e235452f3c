//! ResolveTenant over real gRPC: by id, slug, `{slug}.{base domain}` and
//! verified custom domains; what must not resolve answers NOT_FOUND.

use tenantd::pb;
use tenantd::pb::resolve_tenant_request::Target;
use tonic::Code;

use crate::support::dns::TestDns;
use crate::support::fixtures::{Client, create, create_domain};
use crate::support::status::{assert_error, invalid_fields};
use crate::support::{Backend, TestServer};

const BASE_DOMAIN: &str = "tenants.example.net";

pub(crate) async fn resolve(
    client: &mut Client,
    target: Target,
) -> Result<pb::ResolveTenantResponse, tonic::Status> {
    client
        .resolve_tenant(pb::ResolveTenantRequest {
            target: Some(target),
        })
        .await
        .map(tonic::Response::into_inner)
}

fn host(value: &str) -> Target {
    Target::Host(value.to_owned())
}

async fn ids_slugs_and_subdomains_resolve(backend: Backend) {
    let server = TestServer::start_with(backend, |config| {
        config.base_domain = Some(BASE_DOMAIN.to_owned());
    })
    .await;
    let mut client = server.tenants();
    let acme = create(&mut client, "acme").await;
    create(&mut client, "globex").await;

    let by_id = resolve(&mut client, Target::TenantId(acme.id.clone()))
        .await
        .unwrap();
    assert_eq!(by_id.tenant, acme.name);
    assert_eq!(by_id.tenant_id, acme.id);
    assert_eq!(by_id.slug, "acme");
    assert_eq!(by_id.plan, "starter");
    assert_eq!(by_id.state(), pb::TenantState::Active);
    assert_eq!(by_id.resolved_by(), pb::ResolvedBy::TenantId);

    let by_slug = resolve(&mut client, Target::Slug("acme".into()))
        .await
        .unwrap();
    assert_eq!(
        (by_slug.tenant_id.as_str(), by_slug.resolved_by()),
        (acme.id.as_str(), pb::ResolvedBy::Slug)
    );

    for authority in [
        "acme.tenants.example.net",
        "ACME.Tenants.Example.Net:8443",
        "acme.tenants.example.net.",
    ] {
        let by_host = resolve(&mut client, host(authority)).await.unwrap();
        assert_eq!(by_host.tenant_id, acme.id, "for {authority}");
        assert_eq!(by_host.resolved_by(), pb::ResolvedBy::Subdomain);
    }

    for unknown in [
        host("nobody.tenants.example.net"),
        host("deep.acme.tenants.example.net"),
        host("tenants.example.net"),
        host("acme.elsewhere.example"),
        host("127.0.0.1:50051"),
        Target::Slug("nobody".into()),
        Target::TenantId("0190a0c8-7b7e-7c4e-9f7e-3a1b2c3d4e5f".into()),
    ] {
        let status = resolve(&mut client, unknown.clone()).await.unwrap_err();
        assert_error(&status, Code::NotFound, "TENANT_NOT_FOUND");
        assert!(
            !status.message().contains("globex"),
            "{unknown:?}: {}",
            status.message()
        );
    }

    for empty in [host(""), Target::Slug(String::new())] {
        let status = resolve(&mut client, empty).await.unwrap_err();
        assert_eq!(invalid_fields(&status), ["target"]);
    }
    let unset = client
        .resolve_tenant(pb::ResolveTenantRequest { target: None })
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&unset), ["target"]);
    let bad_id = resolve(&mut client, Target::TenantId("acme".into()))
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&bad_id), ["tenant_id"]);
    server.stop().await;
}

async fn only_verified_custom_domains_resolve(backend: Backend) {
    let dns = TestDns::start().await;
    let resolver = dns.address;
    let server = TestServer::start_with(backend, move |config| {
        config.base_domain = Some(BASE_DOMAIN.to_owned());
        config.dns_resolver = Some(resolver);
    })
    .await;
    let mut client = server.tenants();
    let acme = create(&mut client, "acme").await;
    let domain = create_domain(&mut client, &acme.name, "shop.example.com").await;

    let pending = resolve(&mut client, host("shop.example.com"))
        .await
        .unwrap_err();
    assert_error(&pending, Code::NotFound, "TENANT_NOT_FOUND");

    dns.publish_txt(
        &domain.verification_record_name,
        &domain.verification_record_value,
    );
    client
        .verify_domain(pb::VerifyDomainRequest {
            name: domain.name.clone(),
        })
        .await
        .expect("verify");
    for authority in ["shop.example.com", "Shop.Example.com:443"] {
        let resolved = resolve(&mut client, host(authority)).await.unwrap();
        assert_eq!(resolved.tenant_id, acme.id, "for {authority}");
        assert_eq!(resolved.resolved_by(), pb::ResolvedBy::CustomDomain);
    }

    client
        .delete_domain(pb::DeleteDomainRequest { name: domain.name })
        .await
        .expect("delete domain");
    let removed = resolve(&mut client, host("shop.example.com"))
        .await
        .unwrap_err();
    assert_error(&removed, Code::NotFound, "TENANT_NOT_FOUND");
    server.stop().await;
}

async fn suspended_tenants_resolve_and_deleted_ones_do_not(backend: Backend) {
    let server = TestServer::start_with(backend, |config| {
        config.base_domain = Some(BASE_DOMAIN.to_owned());
    })
    .await;
    let mut client = server.tenants();
    let acme = create(&mut client, "acme").await;
    client
        .suspend_tenant(pb::SuspendTenantRequest {
            name: acme.name.clone(),
            reason: "unpaid invoice".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let suspended = resolve(&mut client, host("acme.tenants.example.net"))
        .await
        .unwrap();
    assert_eq!(
        suspended.state(),
        pb::TenantState::Suspended,
        "callers decide what a suspension means"
    );

    client
        .delete_tenant(pb::DeleteTenantRequest {
            name: acme.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    for target in [
        Target::TenantId(acme.id.clone()),
        Target::Slug("acme".into()),
        host("acme.tenants.example.net"),
    ] {
        let status = resolve(&mut client, target).await.unwrap_err();
        assert_error(&status, Code::NotFound, "TENANT_NOT_FOUND");
    }

    client
        .undelete_tenant(pb::UndeleteTenantRequest {
            name: acme.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let back = resolve(&mut client, Target::Slug("acme".into()))
        .await
        .unwrap();
    assert_eq!(
        back.state(),
        pb::TenantState::Suspended,
        "undelete restores the state before deletion"
    );
    server.stop().await;
}

crate::backend_tests!(
    ids_slugs_and_subdomains_resolve,
    only_verified_custom_domains_resolve,
    suspended_tenants_resolve_and_deleted_ones_do_not,
);
