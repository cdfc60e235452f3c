//! The tenant context layer seen from callers: which tenant metadata and
//! host names select, what a tenant key can reach, key-use bookkeeping,
//! how fast changes reach every replica, and the README's access table.

use std::time::{Duration, Instant};

use tenantd::pb;
use tenantd::pb::config_service_client::ConfigServiceClient;
use tenantd::pb::tenant_service_client::TenantServiceClient;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::support::dns::TestDns;
use crate::support::fixtures::{Client, create, create_domain, name_request};
use crate::support::raw::{self, Presented, Shape};
use crate::support::server::{ADMIN_TOKEN, Credentials, SERVICE_TOKEN};
use crate::support::status::assert_error;
use crate::support::{Backend, TestServer};

const BASE_DOMAIN: &str = "tenants.example.net";

fn admin() -> Credentials {
    Credentials::bearer(ADMIN_TOKEN)
}

pub(crate) fn service() -> Credentials {
    Credentials::bearer(SERVICE_TOKEN)
}

fn config_client(
    channel: Channel,
    credentials: Credentials,
) -> ConfigServiceClient<InterceptedService<Channel, Credentials>> {
    ConfigServiceClient::with_interceptor(channel, credentials)
}

/// Issues a key of `tenant` with `scopes`, returning (secret, key).
pub(crate) async fn issue_key(
    client: &mut Client,
    tenant: &str,
    scopes: &[&str],
) -> (String, pb::ApiKey) {
    let issued = client
        .create_api_key(pb::CreateApiKeyRequest {
            parent: tenant.to_owned(),
            api_key: Some(pb::ApiKey {
                display_name: "context test".into(),
                scopes: scopes.iter().map(|scope| (*scope).to_owned()).collect(),
                ..Default::default()
            }),
        })
        .await
        .expect("create key")
        .into_inner();
    (issued.secret, issued.api_key.expect("the key"))
}

pub(crate) async fn suspend(client: &mut Client, name: &str) {
    client
        .suspend_tenant(pb::SuspendTenantRequest {
            name: name.to_owned(),
            reason: "unpaid invoice".into(),
            ..Default::default()
        })
        .await
        .expect("suspend");
}

/// Whether GetTenant of `name` succeeds through `client`, or its reason.
pub(crate) async fn get_outcome(client: &mut Client, name: &str) -> Result<(), (Code, String)> {
    match client.get_tenant(name_request(name)).await {
        Ok(_) => Ok(()),
        Err(status) => {
            let reason = tonic_types::StatusExt::get_details_error_info(&status)
                .map(|info| info.reason)
                .unwrap_or_default();
            Err((status.code(), reason))
        }
    }
}

fn mismatch() -> Result<(), (Code, String)> {
    Err((Code::PermissionDenied, "TENANT_MISMATCH".to_owned()))
}

async fn every_strategy_selects_the_tenant(backend: Backend) {
    let dns = TestDns::start().await;
    let resolver = dns.address;
    let server = TestServer::start_with(backend, move |config| {
        config.base_domain = Some(BASE_DOMAIN.to_owned());
        config.dns_resolver = Some(resolver);
    })
    .await;
    let mut operator = server.tenants();
    let acme = create(&mut operator, "acme").await;
    let globex = create(&mut operator, "globex").await;
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

    let by_metadata = [
        admin().with("x-tenant-id", &acme.id),
        admin().with("x-tenant-slug", "acme"),
        // x-tenant-id is asked before x-tenant-slug.
        admin()
            .with("x-tenant-id", &acme.id)
            .with("x-tenant-slug", "globex"),
    ];
    for credentials in by_metadata {
        let mut client = server.tenants_as(credentials);
        assert_eq!(get_outcome(&mut client, &acme.name).await, Ok(()));
        assert_eq!(get_outcome(&mut client, &globex.name).await, mismatch());
    }
    // Metadata comes before the host.
    let globex_by_header = admin().with("x-tenant-slug", "globex");
    let channel = server.channel_for_host("shop.example.com").await;
    let mut client = TenantServiceClient::with_interceptor(channel, globex_by_header);
    assert_eq!(get_outcome(&mut client, &globex.name).await, Ok(()));

    for host in [
        "shop.example.com",
        "Shop.Example.com:443",
        "acme.tenants.example.net",
        "acme.tenants.example.net:8443",
    ] {
        let channel = server.channel_for_host(host).await;
        let mut client = TenantServiceClient::with_interceptor(channel.clone(), admin());
        assert_eq!(get_outcome(&mut client, &acme.name).await, Ok(()), "{host}");
        assert_eq!(
            get_outcome(&mut client, &globex.name).await,
            mismatch(),
            "{host}"
        );
        let mut config = config_client(channel, service());
        let admitted = config
            .get_config(pb::GetConfigRequest::default())
            .await
            .unwrap_err();
        // Admitted: the empty request itself is what is refused.
        assert_eq!(
            admitted.code(),
            Code::InvalidArgument,
            "{host}: {admitted:?}"
        );
    }
    // A host naming no tenant (tenantd's own address) selects none.
    let mut plain = server.tenants();
    assert_eq!(get_outcome(&mut plain, &globex.name).await, Ok(()));

    let unknown = [
        service().with("x-tenant-slug", "nobody"),
        service().with("x-tenant-id", "0190a0c8-7b7e-7c4e-9f7e-3a1b2c3d4e5f"),
    ];
    for credentials in unknown {
        let mut config = config_client(server.channel.clone(), credentials);
        let status = config
            .get_config(pb::GetConfigRequest::default())
            .await
            .unwrap_err();
        assert_error(&status, Code::NotFound, "TENANT_NOT_FOUND");
    }

    suspend(&mut operator, &acme.name).await;
    for host in ["shop.example.com", "acme.tenants.example.net"] {
        let channel = server.channel_for_host(host).await;
        let mut config = config_client(channel.clone(), service());
        let status = config
            .get_config(pb::GetConfigRequest::default())
            .await
            .unwrap_err();
        assert_error(&status, Code::PermissionDenied, "TENANT_SUSPENDED");
        // Operators still reach a suspended tenant, to reactivate it.
        let mut client = TenantServiceClient::with_interceptor(channel, admin());
        assert_eq!(get_outcome(&mut client, &acme.name).await, Ok(()));
    }
    server.stop().await;
}

async fn a_tenant_key_reaches_only_its_own_tenant(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut operator = server.tenants();
    let acme = create(&mut operator, "acme").await;
    let globex = create(&mut operator, "globex").await;
    let (secret, key) = issue_key(&mut operator, &acme.name, &["tenant:read", "keys:manage"]).await;

    let mut own = server.tenants_as(Credentials::bearer(&secret));
    assert_eq!(get_outcome(&mut own, &acme.name).await, Ok(()));
    assert_eq!(get_outcome(&mut own, "tenants/slug:acme").await, Ok(()));
    // Another tenant and a tenant that does not exist look the same.
    let other = own
        .get_tenant(name_request(&globex.name))
        .await
        .unwrap_err();
    let nobody = own
        .get_tenant(name_request("tenants/0190a0c8-7b7e-7c4e-9f7e-3a1b2c3d4e5f"))
        .await
        .unwrap_err();
    assert_error(&other, Code::PermissionDenied, "TENANT_MISMATCH");
    assert_eq!(
        (other.code(), other.message()),
        (nobody.code(), nobody.message())
    );
    assert_eq!(
        get_outcome(&mut own, "tenants/slug:globex").await,
        mismatch()
    );
    let mut naming_other =
        server.tenants_as(Credentials::bearer(&secret).with("x-tenant-id", &globex.id));
    assert_eq!(get_outcome(&mut naming_other, &acme.name).await, mismatch());
    let listing = own
        .list_tenants(pb::ListTenantsRequest::default())
        .await
        .unwrap_err();
    assert_error(&listing, Code::PermissionDenied, "CALLER_NOT_ALLOWED");
    let audit = own
        .list_audit_events(pb::ListAuditEventsRequest {
            parent: acme.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&audit, Code::PermissionDenied, "SCOPE_MISSING");

    // What a key does is audited under the key's prefix.
    let (_, made) = issue_key(&mut own, &acme.name, &["usage:write"]).await;
    let events = operator
        .list_audit_events(pb::ListAuditEventsRequest {
            parent: acme.name.clone(),
            filter: format!("resource = \"{}\"", made.name),
            ..Default::default()
        })
        .await
        .expect("audit")
        .into_inner()
        .audit_events;
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].actor,
        format!("key:{}", &key.prefix["tdk_".len()..])
    );
    server.stop().await;
}

async fn bad_credentials_are_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    let cases = [
        (Credentials::none(), "CREDENTIALS_MISSING"),
        (
            Credentials::bearer("not-a-configured-token"),
            "CREDENTIALS_INVALID",
        ),
        (
            Credentials::bearer(&format!("tdk_0123456789abcdef_{}", "0".repeat(64))),
            "CREDENTIALS_INVALID",
        ),
        (Credentials::bearer("tdk_nonsense"), "CREDENTIALS_INVALID"),
    ];
    for (credentials, reason) in cases {
        let mut client = server.tenants_as(credentials);
        let status = client
            .list_tenants(pb::ListTenantsRequest::default())
            .await
            .unwrap_err();
        assert_error(&status, Code::Unauthenticated, reason);
    }
    let mut basic = server.tenants_as(Credentials::none().with("authorization", "Basic YTpi"));
    let status = basic
        .list_tenants(pb::ListTenantsRequest::default())
        .await
        .unwrap_err();
    assert_error(&status, Code::Unauthenticated, "CREDENTIALS_MALFORMED");
    // A method tenantd does not serve is UNIMPLEMENTED, once authenticated.
    let unary = Shape {
        client_streaming: false,
        server_streaming: false,
    };
    let path = "/tenantd.v1.TenantService/GetTenantz";
    let as_admin = Presented {
        secret: Some(ADMIN_TOKEN.to_owned()),
        tenant_id: None,
    };
    let status = raw::call(&server.channel, path, unary, &as_admin, Vec::new())
        .await
        .unwrap_err();
    assert_error(&status, Code::Unimplemented, "METHOD_NOT_FOUND");
    let anonymous = Presented {
        secret: None,
        tenant_id: None,
    };
    let status = raw::call(&server.channel, path, unary, &anonymous, Vec::new())
        .await
        .unwrap_err();
    assert_error(&status, Code::Unauthenticated, "CREDENTIALS_MISSING");
    // A service may not manage tenants.
    let mut service_client = server.tenants_as(service());
    let status = service_client
        .list_tenants(pb::ListTenantsRequest::default())
        .await
        .unwrap_err();
    assert_error(&status, Code::PermissionDenied, "CALLER_NOT_ALLOWED");
    server.stop().await;
}

async fn key_uses_are_recorded_without_a_write_per_call(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut operator = server.tenants();
    let acme = create(&mut operator, "acme").await;
    let (secret, key) = issue_key(&mut operator, &acme.name, &["tenant:read"]).await;
    assert!(key.last_used_time.is_none());
    let before = chrono::Utc::now().timestamp();
    let mut own = server.tenants_as(Credentials::bearer(&secret));
    for _ in 0..20 {
        assert_eq!(get_outcome(&mut own, &acme.name).await, Ok(()));
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let used = loop {
        let keys = operator
            .list_api_keys(pb::ListApiKeysRequest {
                parent: acme.name.clone(),
                ..Default::default()
            })
            .await
            .expect("list keys")
            .into_inner()
            .api_keys;
        if let Some(used) = keys[0].last_used_time {
            break used;
        }
        assert!(Instant::now() < deadline, "last_used_time never written");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let after = chrono::Utc::now().timestamp();
    assert!((before..=after).contains(&used.seconds), "{used:?}");
    server.stop().await;
}

crate::backend_tests!(
    every_strategy_selects_the_tenant,
    a_tenant_key_reaches_only_its_own_tenant,
    bad_credentials_are_refused,
    key_uses_are_recorded_without_a_write_per_call,
);

/// The README's access table is the one the server enforces.
#[test]
fn the_readme_access_table_is_the_enforced_one() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let start = "<!-- access-table:start -->\n";
    let end = "<!-- access-table:end -->";
    let begin = readme.find(start).expect("the access table start marker") + start.len();
    let finish = readme[begin..].find(end).expect("the end marker") + begin;
    let documented = &readme[begin..finish];
    let enforced = tenantd::access::methods::markdown_table();
    assert_eq!(
        documented, enforced,
        "README.md's access table differs from domain::access::METHODS; paste:\n{enforced}"
    );
}
