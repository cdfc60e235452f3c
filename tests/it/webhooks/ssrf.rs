//! Endpoint URLs that would reach the server's own network are refused
//! with a clear reason; and a URL that was allowed at creation but whose
//! host resolves to a refused address at delivery reaches nothing.

use std::time::{Duration, Instant};

use tenantd::pb;
use tonic::Code;
use tonic_types::StatusExt;

use super::receiver::{Receiver, admin, create_endpoint, deliveries};
use crate::backend_tests;
use crate::support::db::TestDatabase;
use crate::support::{Backend, TestServer, fixtures};

backend_tests!(
    ssrf_targets_are_refused_with_a_reason,
    delivery_checks_the_resolved_address_again
);

async fn ssrf_targets_are_refused_with_a_reason(backend: Backend) {
    // Loopback IPv4 allowed, as for tests; nothing else.
    let server = TestServer::start_with(backend, |config| {
        config.webhooks.policy.allowed = vec!["127.0.0.1/32".parse().expect("cidr")];
    })
    .await;
    let tenant = fixtures::create(&mut server.tenants(), "ssrf").await;
    let mut webhooks = admin(&server.channel);
    for (url, address) in [
        (
            "http://169.254.169.254/latest/meta-data/",
            "169.254.169.254",
        ),
        ("http://[::1]/", "::1"),
        ("http://10.0.0.1:8080/", "10.0.0.1"),
        ("https://[fe80::1]/", "fe80::1"),
        ("http://[::ffff:169.254.169.254]/", "169.254.169.254"),
        ("http://0.0.0.0/", "0.0.0.0"),
    ] {
        let refused = webhooks
            .create_webhook_endpoint(pb::CreateWebhookEndpointRequest {
                parent: tenant.name.clone(),
                webhook_endpoint: Some(pb::WebhookEndpoint {
                    url: url.to_owned(),
                    ..Default::default()
                }),
            })
            .await
            .expect_err(url);
        assert_eq!(refused.code(), Code::InvalidArgument, "{url}: {refused:?}");
        let violations = refused
            .get_details_bad_request()
            .expect("BadRequest")
            .field_violations;
        assert_eq!(violations.len(), 1, "{url}: {violations:?}");
        assert_eq!(violations[0].field, "webhook_endpoint.url");
        let reason = &violations[0].description;
        assert!(
            reason.contains(address) && reason.contains("not a public address"),
            "{url}: unclear reason {reason:?}"
        );
    }
    for url in [
        "ftp://example.com/",
        "http:///nohost",
        "http://user:secret@example.com/",
    ] {
        let refused = webhooks
            .create_webhook_endpoint(pb::CreateWebhookEndpointRequest {
                parent: tenant.name.clone(),
                webhook_endpoint: Some(pb::WebhookEndpoint {
                    url: url.to_owned(),
                    ..Default::default()
                }),
            })
            .await
            .expect_err(url);
        assert_eq!(refused.code(), Code::InvalidArgument, "{url}");
        assert!(
            !refused.message().contains("secret"),
            "the URL's password is not echoed"
        );
    }
    let listed = webhooks
        .list_webhook_endpoints(pb::ListWebhookEndpointsRequest {
            parent: tenant.name.clone(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert!(
        listed.webhook_endpoints.is_empty(),
        "nothing refused was stored"
    );
    server.stop().await;
}

async fn delivery_checks_the_resolved_address_again(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let receiver = Receiver::start();
    // The first server allows loopback: `localhost` is accepted.
    let lenient = TestServer::start_on(&database, |config| {
        config.webhooks.policy.allow_private = true;
        config.webhooks.concurrency = 0;
    })
    .await;
    let tenant = fixtures::create(&mut lenient.tenants(), "rebound").await;
    let url = format!("http://localhost:{}/hook", receiver.port);
    let (endpoint, secret) =
        create_endpoint(&mut admin(&lenient.channel), &tenant.name, &url, &[]).await;
    receiver.set_secret(&secret).await;
    lenient.stop().await;
    // The server that delivers admits no private address.
    let strict = TestServer::start_on(&database, |config| {
        config.webhooks.poll_interval = Duration::from_millis(50);
    })
    .await;
    fixtures::create_domain(&mut strict.tenants(), &tenant.name, "rebound.example.com").await;
    let mut webhooks = admin(&strict.channel);
    let deadline = Instant::now() + Duration::from_secs(20);
    let attempt = loop {
        let listed = deliveries(&mut webhooks, &endpoint.name).await;
        if let Some(attempt) = listed
            .first()
            .and_then(|delivery| delivery.attempts.first())
        {
            break attempt.clone();
        }
        assert!(Instant::now() < deadline, "no attempt was made");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(attempt.status_code, 0, "nothing was connected to");
    assert!(
        attempt.error.contains("not a public address"),
        "unclear error {:?}",
        attempt.error
    );
    assert!(
        receiver.records().await.is_empty(),
        "the receiver got a delivery"
    );
    strict.stop().await;
    database.drop_database().await;
}
