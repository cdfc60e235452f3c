//! Hostnames cannot be squatted: a PENDING claim reserves nothing, so the
//! tenant that controls a hostname gets its own challenge and, once it
//! proves control by DNS, wins; the squatter's claim is released and the
//! release is in the squatter's audit log. Claims expire (and the tenant
//! jobs remove them); a VERIFIED hostname stays one tenant's.

use tenantd::pb;
use tenantd::pb::resolve_tenant_request::Target;
use tonic::Code;

use crate::context::issue_key;
use crate::support::dns::TestDns;
use crate::support::fixtures::{Client, create};
use crate::support::server::Credentials;
use crate::support::status::assert_error;
use crate::support::{Backend, TestServer};

const HOST: &str = "shop.example.com";

async fn start(backend: Backend, dns: &TestDns, ttl: Option<chrono::Duration>) -> TestServer {
    let resolver = dns.address;
    TestServer::start_with(backend, move |config| {
        config.dns_resolver = Some(resolver);
        if let Some(ttl) = ttl {
            config.domain_claim_ttl = ttl;
        }
    })
    .await
}

/// A client acting with a key of `tenant` that may manage and list its
/// domains and read its audit log.
async fn tenant_client(server: &TestServer, operator: &mut Client, tenant: &str) -> Client {
    let (secret, _) = issue_key(
        operator,
        tenant,
        &["domains:manage", "audit:read", "tenant:read"],
    )
    .await;
    server.tenants_as(Credentials::bearer(&secret))
}

async fn claim(client: &mut Client, parent: &str) -> Result<pb::Domain, tonic::Status> {
    client
        .create_domain(pb::CreateDomainRequest {
            parent: parent.to_owned(),
            domain: Some(pb::Domain {
                hostname: HOST.to_owned(),
                ..Default::default()
            }),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn verify(client: &mut Client, domain: &pb::Domain) -> Result<pb::Domain, tonic::Status> {
    client
        .verify_domain(pb::VerifyDomainRequest {
            name: domain.name.clone(),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn hostnames(client: &mut Client, parent: &str) -> Vec<String> {
    client
        .list_domains(pb::ListDomainsRequest {
            parent: parent.to_owned(),
            ..Default::default()
        })
        .await
        .expect("list domains")
        .into_inner()
        .domains
        .into_iter()
        .map(|domain| domain.hostname)
        .collect()
}

async fn audit(client: &mut Client, parent: &str, action: &str) -> Vec<pb::AuditEvent> {
    client
        .list_audit_events(pb::ListAuditEventsRequest {
            parent: parent.to_owned(),
            filter: format!("action = \"{action}\""),
            ..Default::default()
        })
        .await
        .expect("list audit events")
        .into_inner()
        .audit_events
}

async fn proving_control_wins_over_a_pending_claim(backend: Backend) {
    let dns = TestDns::start().await;
    let server = start(backend, &dns, None).await;
    let mut operator = server.tenants();
    let squatter = create(&mut operator, "squatter").await;
    let owner = create(&mut operator, "owner").await;
    let mut as_squatter = tenant_client(&server, &mut operator, &squatter.name).await;
    let mut as_owner = tenant_client(&server, &mut operator, &owner.name).await;

    let squatted = claim(&mut as_squatter, &squatter.name)
        .await
        .expect("a claim");
    let expiry = squatted.expire_time.expect("a pending claim expires");
    let created = squatted.create_time.expect("a creation time");
    assert_eq!(
        expiry.seconds - created.seconds,
        7 * 24 * 3600,
        "7 days by default"
    );
    let mine = claim(&mut as_owner, &owner.name)
        .await
        .expect("a pending claim does not block another tenant's");
    assert_eq!(mine.state(), pb::DomainState::Pending);
    assert_ne!(
        mine.verification_record_value,
        squatted.verification_record_value
    );
    let twice = claim(&mut as_owner, &owner.name).await.unwrap_err();
    assert_error(&twice, Code::AlreadyExists, "DOMAIN_ALREADY_EXISTS");

    dns.publish_txt(
        &mine.verification_record_name,
        &mine.verification_record_value,
    );
    let verified = verify(&mut as_owner, &mine).await.expect("verified");
    assert_eq!(verified.state(), pb::DomainState::Verified);
    assert!(verified.expire_time.is_none());

    // The squatter's claim is gone, and its own trail says why.
    assert!(hostnames(&mut as_squatter, &squatter.name).await.is_empty());
    let released = audit(&mut as_squatter, &squatter.name, "ReleaseDomain").await;
    assert_eq!(released.len(), 1, "{released:?}");
    assert_eq!(released[0].actor, "system:tenantd");
    assert_eq!(released[0].resource, squatted.name);
    assert!(
        audit(&mut as_owner, &owner.name, "ReleaseDomain")
            .await
            .is_empty()
    );
    let gone = verify(&mut as_squatter, &squatted).await.unwrap_err();
    assert_error(&gone, Code::NotFound, "DOMAIN_NOT_FOUND");
    // A VERIFIED hostname stays the owner's.
    let taken = claim(&mut as_squatter, &squatter.name).await.unwrap_err();
    assert_error(&taken, Code::AlreadyExists, "DOMAIN_ALREADY_EXISTS");

    let resolved = operator
        .resolve_tenant(pb::ResolveTenantRequest {
            target: Some(Target::Host(HOST.to_owned())),
        })
        .await
        .expect("the hostname resolves")
        .into_inner();
    assert_eq!(resolved.tenant, owner.name);
    server.stop().await;
}

async fn expired_claims_cannot_be_verified_and_are_renewed(backend: Backend) {
    let dns = TestDns::start().await;
    // A claim that expires two seconds after it is made. (Not at once: the
    // expiry job's pass at start-up, late on a loaded machine, would remove
    // it before it could be verified.)
    let ttl = chrono::Duration::seconds(2);
    let server = start(backend, &dns, Some(ttl)).await;
    let mut operator = server.tenants();
    let acme = create(&mut operator, "acme").await;
    let mut as_acme = tenant_client(&server, &mut operator, &acme.name).await;

    let expired = claim(&mut as_acme, &acme.name).await.expect("a claim");
    let seconds = |time: Option<prost_types::Timestamp>| time.map(|time| time.seconds);
    assert_eq!(
        seconds(expired.expire_time),
        seconds(expired.create_time).map(|at| at + 2)
    );
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    dns.publish_txt(
        &expired.verification_record_name,
        &expired.verification_record_value,
    );
    let refused = verify(&mut as_acme, &expired).await.unwrap_err();
    assert_error(&refused, Code::FailedPrecondition, "DOMAIN_CLAIM_EXPIRED");

    let renewed = claim(&mut as_acme, &acme.name)
        .await
        .expect("an expired claim is renewed");
    assert_ne!(
        renewed.verification_record_value,
        expired.verification_record_value
    );
    assert_eq!(hostnames(&mut as_acme, &acme.name).await, [HOST]);
    assert_eq!(
        audit(&mut as_acme, &acme.name, "CreateDomain").await.len(),
        2
    );
    server.stop().await;
}

async fn expired_claims_are_removed_and_audited(backend: Backend) {
    let server = TestServer::start_with(backend, |config| {
        config.domain_claim_ttl = chrono::Duration::zero();
        config.tenant_jobs_interval = std::time::Duration::from_millis(100);
    })
    .await;
    let mut operator = server.tenants();
    let acme = create(&mut operator, "acme").await;
    let mut as_acme = tenant_client(&server, &mut operator, &acme.name).await;
    let expired = claim(&mut as_acme, &acme.name).await.expect("a claim");

    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while !hostnames(&mut as_acme, &acme.name).await.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the expired claim is removed by the tenant jobs"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let removed = audit(&mut as_acme, &acme.name, "ExpireDomain").await;
    assert_eq!(removed.len(), 1, "{removed:?}");
    assert_eq!(removed[0].actor, "system:tenantd");
    assert_eq!(removed[0].resource, expired.name);
    server.stop().await;
}

crate::backend_tests!(
    proving_control_wins_over_a_pending_claim,
    expired_claims_cannot_be_verified_and_are_renewed,
    expired_claims_are_removed_and_audited,
);
