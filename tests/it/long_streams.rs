//! Long streams are held to the caller's admission for as long as they
//! run: a tenant key's WatchEvents and WatchConfig streams end with the
//! refusal a new call would get once the key is revoked (on another
//! replica, through the change feed) or its tenant suspended, while an
//! operator's stream goes on.

use std::time::Duration;

use tenantd::pb;
use tonic::{Code, Status, Streaming};

use crate::config::client as configs;
use crate::events::{admin, as_caller, events, request};
use crate::support::fixtures::{Client, create};
use crate::support::server::Credentials;
use crate::support::status::assert_error;
use crate::support::{Backend, TestServer};

/// Long enough for a recheck (every 2 s) after the change feed's news.
const PATIENCE: Duration = Duration::from_secs(15);

/// A key of tenant `parent` that may read its events and configuration:
/// its resource name and its secret.
async fn reader_key(tenants: &mut Client, parent: &str) -> (String, String) {
    let issued = tenants
        .create_api_key(pb::CreateApiKeyRequest {
            parent: parent.to_owned(),
            api_key: Some(pb::ApiKey {
                display_name: "watcher".into(),
                scopes: vec!["events:read".into(), "config:read".into()],
                ..Default::default()
            }),
        })
        .await
        .expect("create key")
        .into_inner();
    (issued.api_key.expect("the key").name, issued.secret)
}

/// The status `stream` ends with, skipping what it sends before.
async fn ending<T: std::fmt::Debug>(stream: &mut Streaming<T>) -> Status {
    tokio::time::timeout(PATIENCE, async {
        loop {
            match stream.message().await {
                Ok(Some(_)) => {}
                Ok(None) => panic!("the stream ended without a status"),
                Err(status) => return status,
            }
        }
    })
    .await
    .expect("the stream ends in time")
}

/// The two streams a key of `tenant` opens on `server`, each past its
/// first message (so both are live).
async fn key_streams(
    server: &TestServer,
    tenant: &pb::Tenant,
    secret: &str,
) -> (
    Streaming<pb::WatchEventsResponse>,
    Streaming<pb::WatchConfigResponse>,
) {
    let mut watch = as_caller(&server.channel, Credentials::bearer(secret))
        .watch_events(request(&[], Some(0)))
        .await
        .expect("a key watches its events")
        .into_inner();
    assert_eq!(
        events(&mut watch, 1).await[0].short_type(),
        "tenant.created"
    );
    let mut config = configs(server, secret)
        .watch_config(pb::WatchConfigRequest {
            parent: tenant.name.clone(),
            after_revision: 0,
            heartbeat_interval: None,
        })
        .await
        .expect("a key watches its configuration")
        .into_inner();
    tokio::time::timeout(PATIENCE, config.message())
        .await
        .expect("a snapshot in time")
        .expect("a snapshot")
        .expect("the stream goes on");
    (watch, config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_revoked_on_one_replica_ends_its_streams_on_another() {
    let Some((first, second)) = TestServer::replicas_with_long_cache().await else {
        return;
    };
    let mut tenants = first.tenants();
    let tenant = create(&mut tenants, "revoked-watcher").await;
    let (key, secret) = reader_key(&mut tenants, &tenant.name).await;
    let (mut watch, mut config) = key_streams(&second, &tenant, &secret).await;
    let mut operator = admin(&second.channel)
        .watch_events(request(&[&tenant.name], Some(0)))
        .await
        .expect("the operator watches")
        .into_inner();
    events(&mut operator, 2).await;

    tenants
        .revoke_api_key(pb::RevokeApiKeyRequest { name: key })
        .await
        .expect("revoke");
    assert_error(
        &ending(&mut watch).await,
        Code::Unauthenticated,
        "API_KEY_REVOKED",
    );
    assert_error(
        &ending(&mut config).await,
        Code::Unauthenticated,
        "API_KEY_REVOKED",
    );
    // The operator's stream goes on, and carries the revocation.
    assert_eq!(
        events(&mut operator, 1).await[0].short_type(),
        "api_key.revoked"
    );
    second.stop().await;
    first.stop().await;
}

async fn a_suspended_tenant_s_key_streams_end(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut tenants = server.tenants();
    let tenant = create(&mut tenants, "suspended-watcher").await;
    let (_, secret) = reader_key(&mut tenants, &tenant.name).await;
    let (mut watch, mut config) = key_streams(&server, &tenant, &secret).await;
    tenants
        .suspend_tenant(pb::SuspendTenantRequest {
            name: tenant.name.clone(),
            reason: "unpaid".into(),
            etag: String::new(),
        })
        .await
        .expect("suspend");
    assert_error(
        &ending(&mut watch).await,
        Code::PermissionDenied,
        "TENANT_SUSPENDED",
    );
    assert_error(
        &ending(&mut config).await,
        Code::PermissionDenied,
        "TENANT_SUSPENDED",
    );
    server.stop().await;
}

crate::backend_tests!(a_suspended_tenant_s_key_streams_end);
