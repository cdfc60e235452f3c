//! Custom domains over real gRPC: adding with validation and normalisation,
//! one claim per tenant and hostname, listing, removal, and verification through a
//! real DNS resolver that asks a test DNS server.

use tenantd::pb;
use tonic::Code;
use tonic_types::StatusExt;

use crate::support::dns::TestDns;
use crate::support::fixtures::{Client, create};
use crate::support::status::{assert_error, invalid_fields};
use crate::support::{Backend, TestServer};

const BASE_DOMAIN: &str = "tenants.example.net";

async fn start(backend: Backend, dns: &TestDns) -> TestServer {
    let resolver = dns.address;
    TestServer::start_with(backend, move |config| {
        config.base_domain = Some(BASE_DOMAIN.to_owned());
        config.dns_resolver = Some(resolver);
    })
    .await
}

fn create_request(parent: &str, hostname: &str) -> pb::CreateDomainRequest {
    pb::CreateDomainRequest {
        parent: parent.to_owned(),
        domain: Some(pb::Domain {
            hostname: hostname.to_owned(),
            ..Default::default()
        }),
    }
}

async fn add(
    client: &mut Client,
    parent: &str,
    hostname: &str,
) -> Result<pb::Domain, tonic::Status> {
    client
        .create_domain(create_request(parent, hostname))
        .await
        .map(tonic::Response::into_inner)
}

async fn list_all(client: &mut Client, parent: &str, page_size: i32) -> Vec<String> {
    let mut hostnames = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_domains(pb::ListDomainsRequest {
                parent: parent.to_owned(),
                page_size,
                page_token,
            })
            .await
            .expect("list domains")
            .into_inner();
        assert!(page.domains.len() <= page_size as usize);
        hostnames.extend(page.domains.into_iter().map(|domain| domain.hostname));
        if page.next_page_token.is_empty() {
            return hostnames;
        }
        page_token = page.next_page_token;
    }
}

async fn added_domains_are_pending_and_normalised(backend: Backend) {
    let dns = TestDns::start().await;
    let server = start(backend, &dns).await;
    let mut client = server.tenants();
    let acme = create(&mut client, "acme").await;

    let domain = add(&mut client, &acme.name, "Shop.Example.COM.")
        .await
        .unwrap();
    assert_eq!(domain.hostname, "shop.example.com");
    assert_eq!(
        domain.name,
        format!("{}/domains/shop.example.com", acme.name)
    );
    assert_eq!(domain.state(), pb::DomainState::Pending);
    assert_eq!(
        domain.verification_record_name,
        "_tenantd-challenge.shop.example.com"
    );
    assert!(
        domain
            .verification_record_value
            .starts_with("tenantd-verification=")
            && domain.verification_record_value.len() > "tenantd-verification=".len() + 20,
        "an unguessable token: {}",
        domain.verification_record_value
    );
    assert!(domain.create_time.is_some() && domain.verify_time.is_none());

    let idn = add(&mut client, "tenants/slug:acme", "bücher.example")
        .await
        .unwrap();
    assert_eq!(idn.hostname, "xn--bcher-kva.example");
    server.stop().await;
}

async fn invalid_hostnames_are_refused(backend: Backend) {
    let dns = TestDns::start().await;
    let server = start(backend, &dns).await;
    let mut client = server.tenants();
    let acme = create(&mut client, "acme").await;
    let too_long = format!("{}.com", vec!["a".repeat(63); 4].join("."));
    for bad in [
        "",
        "localhost",
        "10.0.0.1",
        "[::1]",
        "*.example.com",
        "a..example.com",
        "-shop.example.com",
        "shop_1.example.com",
        too_long.as_str(),
        "acme.tenants.example.net",
        "tenants.example.net",
    ] {
        let status = add(&mut client, &acme.name, bad).await.unwrap_err();
        assert_eq!(invalid_fields(&status), ["domain.hostname"], "for {bad:?}");
    }
    let missing = client
        .create_domain(pb::CreateDomainRequest {
            parent: acme.name.clone(),
            domain: None,
        })
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&missing), ["domain"]);
    let bad_parent = add(&mut client, "tenant/acme", "shop.example.com")
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&bad_parent), ["parent"]);

    let listed = list_all(&mut client, &acme.name, 10).await;
    assert!(
        listed.is_empty(),
        "nothing was added by refused calls: {listed:?}"
    );
    server.stop().await;
}

async fn a_tenant_claims_a_hostname_once(backend: Backend) {
    let dns = TestDns::start().await;
    let server = start(backend, &dns).await;
    let mut client = server.tenants();
    let acme = create(&mut client, "acme").await;
    let globex = create(&mut client, "globex").await;
    add(&mut client, &acme.name, "shop.example.com")
        .await
        .unwrap();

    let same_tenant = add(&mut client, &acme.name, "shop.example.com")
        .await
        .unwrap_err();
    assert_error(&same_tenant, Code::AlreadyExists, "DOMAIN_ALREADY_EXISTS");
    // A PENDING claim reserves nothing: the other tenant gets its own
    // challenge (tests/it/domain_claims.rs has the contest).
    let other_tenant = add(&mut client, &globex.name, "SHOP.example.com")
        .await
        .unwrap();
    assert_eq!(other_tenant.state(), pb::DomainState::Pending);
    assert_eq!(
        list_all(&mut client, &globex.name, 10).await,
        ["shop.example.com"]
    );

    let unknown = add(
        &mut client,
        "tenants/0190a0c8-7b7e-7c4e-9f7e-3a1b2c3d4e5f",
        "a.example.com",
    )
    .await
    .unwrap_err();
    assert_error(&unknown, Code::NotFound, "TENANT_NOT_FOUND");

    client
        .delete_tenant(pb::DeleteTenantRequest {
            name: globex.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let deleted = add(&mut client, &globex.name, "globex.example.com")
        .await
        .unwrap_err();
    assert_error(&deleted, Code::FailedPrecondition, "TENANT_DELETED");
    server.stop().await;
}

async fn domains_are_listed_by_hostname_and_removed(backend: Backend) {
    let dns = TestDns::start().await;
    let server = start(backend, &dns).await;
    let mut client = server.tenants();
    let acme = create(&mut client, "acme").await;
    let globex = create(&mut client, "globex").await;
    add(&mut client, &globex.name, "globex.example.com")
        .await
        .unwrap();
    let mut expected = Vec::new();
    for index in (0..7).rev() {
        let hostname = format!("shop{index}.example.com");
        add(&mut client, &acme.name, &hostname).await.unwrap();
        expected.insert(0, hostname);
    }
    assert_eq!(list_all(&mut client, &acme.name, 3).await, expected);
    assert_eq!(
        list_all(&mut client, "tenants/slug:acme", 100).await,
        expected
    );

    let first = client
        .list_domains(pb::ListDomainsRequest {
            parent: acme.name.clone(),
            page_size: 3,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let foreign_token = client
        .list_domains(pb::ListDomainsRequest {
            parent: globex.name.clone(),
            page_size: 3,
            page_token: first.next_page_token,
        })
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&foreign_token), ["page_token"]);

    let name = format!("{}/domains/shop3.example.com", acme.name);
    client
        .delete_domain(pb::DeleteDomainRequest { name: name.clone() })
        .await
        .expect("delete domain");
    expected.retain(|hostname| hostname != "shop3.example.com");
    assert_eq!(list_all(&mut client, &acme.name, 100).await, expected);
    let again = client
        .delete_domain(pb::DeleteDomainRequest { name: name.clone() })
        .await
        .unwrap_err();
    assert_error(&again, Code::NotFound, "DOMAIN_NOT_FOUND");
    let elsewhere = client
        .delete_domain(pb::DeleteDomainRequest {
            name: format!("{}/domains/globex.example.com", acme.name),
        })
        .await
        .unwrap_err();
    assert_error(&elsewhere, Code::NotFound, "DOMAIN_NOT_FOUND");
    assert_eq!(
        list_all(&mut client, &globex.name, 10).await,
        ["globex.example.com"]
    );

    // A removed hostname is free for another tenant.
    add(&mut client, &globex.name, "shop3.example.com")
        .await
        .unwrap();
    server.stop().await;
}

async fn verification_reads_the_txt_record(backend: Backend) {
    let dns = TestDns::start().await;
    let server = start(backend, &dns).await;
    let mut client = server.tenants();
    let acme = create(&mut client, "acme").await;
    let domain = add(&mut client, &acme.name, "shop.example.com")
        .await
        .unwrap();
    let verify = pb::VerifyDomainRequest {
        name: domain.name.clone(),
    };

    let missing = client.verify_domain(verify.clone()).await.unwrap_err();
    assert_error(&missing, Code::FailedPrecondition, "DOMAIN_NOT_VERIFIED");
    let violation = &missing
        .get_details_precondition_failure()
        .expect("PreconditionFailure details")
        .violations[0];
    assert_eq!(violation.r#type, "DNS_TXT_RECORD");
    assert_eq!(violation.subject, domain.verification_record_name);

    dns.publish_txt(
        &domain.verification_record_name,
        "tenantd-verification=someone-else",
    );
    let wrong = client.verify_domain(verify.clone()).await.unwrap_err();
    assert_error(&wrong, Code::FailedPrecondition, "DOMAIN_NOT_VERIFIED");
    assert!(
        wrong.message().contains("someone-else"),
        "{}",
        wrong.message()
    );

    dns.publish_txt(
        &domain.verification_record_name,
        &domain.verification_record_value,
    );
    let verified = client
        .verify_domain(verify.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(verified.state(), pb::DomainState::Verified);
    assert!(verified.verify_time.is_some());
    let again = client.verify_domain(verify).await.unwrap().into_inner();
    assert_eq!(
        again, verified,
        "verifying a verified domain changes nothing"
    );

    let listed = client
        .list_domains(pb::ListDomainsRequest {
            parent: acme.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.domains, [verified]);

    let unknown = client
        .verify_domain(pb::VerifyDomainRequest {
            name: format!("{}/domains/other.example.com", acme.name),
        })
        .await
        .unwrap_err();
    assert_error(&unknown, Code::NotFound, "DOMAIN_NOT_FOUND");
    server.stop().await;
}

crate::backend_tests!(
    added_domains_are_pending_and_normalised,
    invalid_hostnames_are_refused,
    a_tenant_claims_a_hostname_once,
    domains_are_listed_by_hostname_and_removed,
    verification_reads_the_txt_record,
);
