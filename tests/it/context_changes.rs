//! How fast changes reach the tenant context: suspension, deletion and
//! revocation take effect on the next call of the replica that made them,
//! and within a second on another replica sharing PostgreSQL.

use std::time::{Duration, Instant};

use tenantd::pb;
use tonic::Code;

use crate::context::{get_outcome, issue_key, service, suspend};
use crate::support::fixtures::{Client, create};
use crate::support::server::Credentials;
use crate::support::status::assert_error;
use crate::support::{Backend, TestServer};

async fn changes_take_effect_at_once(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut operator = server.tenants();
    let acme = create(&mut operator, "acme").await;
    let (secret, key) = issue_key(&mut operator, &acme.name, &["tenant:read"]).await;
    let mut own = server.tenants_as(Credentials::bearer(&secret));
    assert_eq!(get_outcome(&mut own, &acme.name).await, Ok(()));
    suspend(&mut operator, &acme.name).await;
    assert_eq!(
        get_outcome(&mut own, &acme.name).await,
        Err((Code::PermissionDenied, "TENANT_SUSPENDED".to_owned()))
    );
    operator
        .activate_tenant(pb::ActivateTenantRequest {
            name: acme.name.clone(),
            ..Default::default()
        })
        .await
        .expect("activate");
    assert_eq!(get_outcome(&mut own, &acme.name).await, Ok(()));
    operator
        .delete_tenant(pb::DeleteTenantRequest {
            name: acme.name.clone(),
            ..Default::default()
        })
        .await
        .expect("delete");
    assert_eq!(
        get_outcome(&mut own, &acme.name).await,
        Err((Code::NotFound, "TENANT_NOT_FOUND".to_owned()))
    );
    operator
        .undelete_tenant(pb::UndeleteTenantRequest {
            name: acme.name.clone(),
            ..Default::default()
        })
        .await
        .expect("undelete");
    assert_eq!(get_outcome(&mut own, &acme.name).await, Ok(()));
    operator
        .revoke_api_key(pb::RevokeApiKeyRequest { name: key.name })
        .await
        .expect("revoke");
    assert_eq!(
        get_outcome(&mut own, &acme.name).await,
        Err((Code::Unauthenticated, "API_KEY_REVOKED".to_owned()))
    );
    server.stop().await;
}

/// Polls `client` until GetTenant of `name` answers `expected`, returning
/// how long that took; fails after `limit`.
async fn time_until(
    client: &mut Client,
    name: &str,
    expected: Result<(), (Code, String)>,
    limit: Duration,
) -> Duration {
    let start = Instant::now();
    loop {
        let outcome = get_outcome(client, name).await;
        if outcome == expected {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "still {outcome:?} after {limit:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Two servers share one PostgreSQL database; what one changes, the other
/// enforces within a second, though its cache would keep answers an hour.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_reach_another_replica_within_a_second() {
    let Some((first, second)) = TestServer::replicas_with_long_cache().await else {
        return;
    };
    let mut operator = first.tenants();
    let acme = create(&mut operator, "acme").await;
    let (secret, key) = issue_key(&mut operator, &acme.name, &["tenant:read"]).await;
    let mut on_second = second.tenants_as(Credentials::bearer(&secret));
    // Warm the second server's cache.
    for _ in 0..3 {
        assert_eq!(get_outcome(&mut on_second, &acme.name).await, Ok(()));
    }

    suspend(&mut operator, &acme.name).await;
    let suspended = Err((Code::PermissionDenied, "TENANT_SUSPENDED".to_owned()));
    let took = time_until(
        &mut on_second,
        &acme.name,
        suspended,
        Duration::from_secs(1),
    )
    .await;
    eprintln!("suspension reached the second server in {took:?}");

    operator
        .activate_tenant(pb::ActivateTenantRequest {
            name: acme.name.clone(),
            ..Default::default()
        })
        .await
        .expect("activate");
    time_until(&mut on_second, &acme.name, Ok(()), Duration::from_secs(1)).await;

    operator
        .revoke_api_key(pb::RevokeApiKeyRequest { name: key.name })
        .await
        .expect("revoke");
    let revoked = Err((Code::Unauthenticated, "API_KEY_REVOKED".to_owned()));
    time_until(&mut on_second, &acme.name, revoked, Duration::from_secs(1)).await;

    operator
        .delete_tenant(pb::DeleteTenantRequest {
            name: acme.name.clone(),
            ..Default::default()
        })
        .await
        .expect("delete");
    let mut service_on_second = second.tenants_as(service());
    let start = Instant::now();
    loop {
        let answer = service_on_second
            .resolve_tenant(pb::ResolveTenantRequest {
                target: Some(pb::resolve_tenant_request::Target::TenantId(
                    acme.id.clone(),
                )),
            })
            .await;
        match answer {
            Err(gone) => {
                assert_error(&gone, Code::NotFound, "TENANT_NOT_FOUND");
                break;
            }
            Ok(_) => assert!(
                start.elapsed() < Duration::from_secs(1),
                "a deleted tenant still resolves on the second server"
            ),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    second.stop().await;
    first.stop().await;
}

crate::backend_tests!(changes_take_effect_at_once);
