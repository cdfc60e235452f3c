//! TLS and mutual TLS on the gRPC port, with a CA and certificates made in
//! the test: TLS clients are served and plaintext ones are not; a renewed
//! certificate is served without a restart (a broken one is not); with a
//! client CA, a client without a certificate is refused, a certificate
//! mapped to a service calls as that service with no token, and an
//! unmapped one is no principal.

mod pki;
mod startup;

use std::time::Duration;

use tenantd::pb;
use tenantd::pb::resolve_tenant_request::Target;
use tenantd::pb::tenant_service_client::TenantServiceClient;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::support::server::{ADMIN_TOKEN, Credentials};
use crate::support::status::assert_error;
use pki::{Ca, TlsServer, connect, eventually, health};

const BILLING: &str = "spiffe://example.org/ns/prod/sa/billing";

type Client = TenantServiceClient<InterceptedService<Channel, Credentials>>;

fn client(channel: Channel, credentials: Credentials) -> Client {
    TenantServiceClient::with_interceptor(channel, credentials)
}

async fn create_tenant(client: &mut Client, slug: &str) -> Result<pb::Tenant, tonic::Status> {
    client
        .create_tenant(pb::CreateTenantRequest {
            tenant: Some(pb::Tenant {
                slug: slug.to_owned(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn resolve(client: &mut Client, slug: &str) -> Result<String, tonic::Status> {
    client
        .resolve_tenant(pb::ResolveTenantRequest {
            target: Some(Target::Slug(slug.to_owned())),
        })
        .await
        .map(|answer| answer.into_inner().tenant_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_serves_tls_clients_and_refuses_plaintext() {
    let ca = Ca::new("tenantd test CA");
    let server = TlsServer::start(&ca.server(), None, &[]).await;
    eventually(|| health(server.port, &ca, None)).await;

    let channel = connect(server.port, &ca, None).await.expect("tls connect");
    let mut operator = client(channel, Credentials::bearer(ADMIN_TOKEN));
    let tenant = create_tenant(&mut operator, "tls-acme")
        .await
        .expect("an operator call over TLS");
    assert_eq!(tenant.slug, "tls-acme");

    let plaintext =
        tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{}", server.port))
            .expect("endpoint")
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(5))
            .connect()
            .await;
    if let Ok(channel) = plaintext {
        let answer = tonic_health::pb::health_client::HealthClient::new(channel)
            .check(tonic_health::pb::HealthCheckRequest::default())
            .await;
        assert!(answer.is_err(), "plaintext was served: {answer:?}");
    }
    let stranger = Ca::new("another CA");
    assert!(
        health(server.port, &stranger, None).await.is_err(),
        "a client trusting another CA accepted the certificate"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_certificate_is_served_without_a_restart() {
    let old_ca = Ca::new("old CA");
    let server = TlsServer::start(&old_ca.server(), None, &[]).await;
    eventually(|| health(server.port, &old_ca, None)).await;
    let open = connect(server.port, &old_ca, None).await.expect("connect");

    // A broken certificate file keeps the pair already loaded.
    std::fs::write(server.dir.join("tls.crt"), "not a certificate").expect("write");
    tokio::time::sleep(tenantd::server::tls::reload::RELOAD_POLL * 2).await;
    health(server.port, &old_ca, None)
        .await
        .expect("the old pair is still served");

    let new_ca = Ca::new("new CA");
    TlsServer::write_pair(&server.dir, &new_ca.server());
    eventually(|| health(server.port, &new_ca, None)).await;
    assert!(
        health(server.port, &old_ca, None).await.is_err(),
        "a new connection still got the old certificate"
    );
    // A connection opened before the renewal goes on.
    tonic_health::pb::health_client::HealthClient::new(open)
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .expect("the connection opened before the renewal");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_maps_client_certificates_to_services() {
    let ca = Ca::new("mesh CA");
    let services = [&*format!("billing={BILLING}"), "reports=CN=reports"];
    let server = TlsServer::start(&ca.server(), Some(&ca), &services).await;
    let stranger = || ca.client("stranger", Some("spiffe://example.org/ns/prod/sa/stranger"));
    eventually(|| health(server.port, &ca, Some(stranger()))).await;

    // No client certificate: refused, whatever the call. TLS 1.3 lets the
    // client finish its side of the handshake first, so its first call
    // fails on the connection (the server's alert or the closed stream),
    // never with an answer from the server.
    let refused = health(server.port, &ca, None)
        .await
        .expect_err("served a client without a certificate");
    assert!(refused_on_the_connection(&refused), "{refused}");
    // A certificate of another CA: refused too.
    let outsider = Ca::new("outsider CA").client("billing", Some(BILLING));
    assert!(health(server.port, &ca, Some(outsider)).await.is_err());

    // A verified certificate mapped to no service is no principal, but a
    // token sent over it is honoured.
    let unmapped = connect(server.port, &ca, Some(stranger()))
        .await
        .expect("connect");
    let status = resolve(
        &mut client(unmapped.clone(), Credentials::none()),
        "tls-billing",
    )
    .await
    .expect_err("an unmapped certificate is no principal");
    assert_error(&status, Code::Unauthenticated, "CREDENTIALS_MISSING");
    let mut operator = client(unmapped, Credentials::bearer(ADMIN_TOKEN));
    let tenant = create_tenant(&mut operator, "tls-billing")
        .await
        .expect("create");

    // The billing certificate is the service `billing`, with no token.
    let billing = connect(server.port, &ca, Some(ca.client("billing", Some(BILLING))))
        .await
        .expect("connect");
    let mut as_billing = client(billing.clone(), Credentials::none());
    assert_eq!(
        resolve(&mut as_billing, "tls-billing")
            .await
            .expect("resolve"),
        tenant.id
    );
    let status = create_tenant(&mut as_billing, "tls-not-allowed")
        .await
        .expect_err("a service may not create tenants");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    // A token sent over a mapped certificate wins: here, an operator's.
    let mut billing_operator = client(billing, Credentials::bearer(ADMIN_TOKEN));
    create_tenant(&mut billing_operator, "tls-by-token")
        .await
        .expect("the bearer token wins over the certificate");

    // A subject common name maps as well.
    let reports = connect(server.port, &ca, Some(ca.client("reports", None)))
        .await
        .expect("connect");
    let mut as_reports = client(reports, Credentials::none());
    assert_eq!(
        resolve(&mut as_reports, "tls-billing")
            .await
            .expect("resolve"),
        tenant.id
    );
    server.stop().await;
}

/// Whether a failed call failed on its connection (the server's alert or
/// the closed stream) rather than with an answer from the server. Under
/// load the closed connection may surface as a cancelled call whose cause
/// is the transport's.
fn refused_on_the_connection(refused: &str) -> bool {
    refused.contains("transport error")
        || refused.contains("transport::Error(Transport")
        || refused.starts_with("connect:")
}
