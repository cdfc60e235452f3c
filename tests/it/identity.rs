//! A tenant's identity as a gateway and other services see it, over real
//! gRPC: external ids as names and in ResolveTenant, ResolveTenant by a
//! credential a service received, and per-tenant allowed source ranges
//! checked against the real source address (clients connect from
//! 127.0.0.2 and 127.0.0.1), directly and behind a trusted proxy.

use std::net::IpAddr;
use std::time::Duration;

use tenantd::pb;
use tenantd::pb::resolve_tenant_request::Target;
use tenantd::pb::tenant_service_client::TenantServiceClient;
use tonic::Code;
use tonic::transport::Channel;

use crate::resolve::resolve;
use crate::support::fixtures::{Client, mask, name_request};
use crate::support::server::{Credentials, SERVICE_TOKEN};
use crate::support::status::{assert_error, invalid_fields};
use crate::support::{Backend, TestServer};

crate::backend_tests!(
    external_ids_name_tenants_everywhere_a_name_is_read,
    a_credential_resolves_to_its_tenant_caller_scopes_and_expiry,
    allowed_source_ranges_admit_keys_only_from_their_addresses,
    trusted_proxies_forward_the_source_address,
);

async fn create_tenant(
    client: &mut Client,
    tenant: pb::Tenant,
) -> Result<pb::Tenant, tonic::Status> {
    client
        .create_tenant(pb::CreateTenantRequest {
            tenant: Some(tenant),
            ..Default::default()
        })
        .await
        .map(tonic::Response::into_inner)
}

fn tenant(slug: &str, external_id: &str, ranges: &[&str]) -> pb::Tenant {
    pb::Tenant {
        slug: slug.to_owned(),
        external_id: external_id.to_owned(),
        allowed_source_ranges: ranges.iter().map(|range| (*range).to_owned()).collect(),
        ..Default::default()
    }
}

async fn key(
    client: &mut Client,
    tenant: &pb::Tenant,
    expire_time: Option<prost_types::Timestamp>,
) -> String {
    client
        .create_api_key(pb::CreateApiKeyRequest {
            parent: tenant.name.clone(),
            api_key: Some(pb::ApiKey {
                display_name: "gateway".into(),
                scopes: vec!["tenant:read".into(), "config:read".into()],
                expire_time,
                ..Default::default()
            }),
        })
        .await
        .expect("create a key")
        .into_inner()
        .secret
}

async fn external_ids_name_tenants_everywhere_a_name_is_read(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = server.tenants();
    let acme = create_tenant(&mut admin, tenant("acme", "org_2abc:EU", &[]))
        .await
        .unwrap();
    assert_eq!(acme.external_id, "org_2abc:EU");
    let globex = create_tenant(&mut admin, tenant("globex", "", &[]))
        .await
        .unwrap();
    assert_eq!(globex.external_id, "");

    let read = admin
        .get_tenant(name_request("tenants/external:org_2abc:EU"))
        .await
        .unwrap();
    assert_eq!(read.into_inner().id, acme.id);
    let resolved = resolve(&mut admin, Target::ExternalId("org_2abc:EU".into()))
        .await
        .unwrap();
    assert_eq!(
        (
            resolved.tenant_id.as_str(),
            resolved.resolved_by(),
            resolved.external_id.as_str()
        ),
        (acme.id.as_str(), pb::ResolvedBy::ExternalId, "org_2abc:EU")
    );
    let mut service = server.tenants_as(Credentials::bearer(SERVICE_TOKEN));
    let by_service = resolve(&mut service, Target::ExternalId("org_2abc:EU".into()))
        .await
        .unwrap();
    assert_eq!(by_service.tenant_id, acme.id);

    // Taken, malformed: refused, naming the field.
    let taken = create_tenant(&mut admin, tenant("initech", "org_2abc:EU", &[]))
        .await
        .unwrap_err();
    assert_error(&taken, Code::AlreadyExists, "EXTERNAL_ID_ALREADY_EXISTS");
    let malformed = create_tenant(&mut admin, tenant("initech", "org/2", &[]))
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&malformed), ["tenant.external_id"]);

    // Moved to another id: the old name stops resolving at once, the new
    // one resolves, and the freed id can be taken by another tenant.
    let moved = admin
        .update_tenant(pb::UpdateTenantRequest {
            tenant: Some(pb::Tenant {
                name: acme.name.clone(),
                external_id: "crm-0015g00000XyZ".into(),
                ..Default::default()
            }),
            update_mask: mask(&["external_id"]),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(moved.external_id, "crm-0015g00000XyZ");
    let gone = resolve(&mut service, Target::ExternalId("org_2abc:EU".into()))
        .await
        .unwrap_err();
    assert_error(&gone, Code::NotFound, "TENANT_NOT_FOUND");
    let read = admin
        .get_tenant(name_request("tenants/external:crm-0015g00000XyZ"))
        .await
        .unwrap();
    assert_eq!(read.into_inner().id, acme.id);
    admin
        .update_tenant(pb::UpdateTenantRequest {
            tenant: Some(pb::Tenant {
                name: globex.name.clone(),
                external_id: "org_2abc:EU".into(),
                ..Default::default()
            }),
            update_mask: mask(&["external_id"]),
        })
        .await
        .expect("the freed external id is taken by another tenant");

    // A tenant key naming another tenant by external id learns nothing.
    let acme_key = key(&mut admin, &acme, None).await;
    let mut as_acme = server.tenants_as(Credentials::bearer(&acme_key));
    let other = as_acme
        .get_tenant(name_request("tenants/external:org_2abc:EU"))
        .await
        .unwrap_err();
    assert_error(&other, Code::PermissionDenied, "TENANT_MISMATCH");
    let own = as_acme
        .get_tenant(name_request("tenants/external:crm-0015g00000XyZ"))
        .await;
    assert_eq!(own.unwrap().into_inner().id, acme.id);
    server.stop().await;
}

async fn a_credential_resolves_to_its_tenant_caller_scopes_and_expiry(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = server.tenants();
    let acme = create_tenant(&mut admin, tenant("acme", "org_acme", &["192.0.2.0/24"]))
        .await
        .unwrap();
    let mut service = server.tenants_as(Credentials::bearer(SERVICE_TOKEN));
    let lasting = key(&mut admin, &acme, None).await;
    let answer = resolve(
        &mut service,
        Target::Credential(format!("Bearer {lasting}")),
    )
    .await;
    // The tenant's source ranges bind its callers, not the service that
    // resolves what a caller presented.
    let answer = answer.expect("a live key resolves");
    assert_eq!(answer.tenant_id, acme.id);
    assert_eq!(answer.resolved_by(), pb::ResolvedBy::Credential);
    assert_eq!(answer.external_id, "org_acme");
    let prefix = lasting.split('_').nth(1).unwrap();
    assert_eq!(answer.caller, format!("key:{prefix}"));
    assert_eq!(answer.scopes, ["config:read", "tenant:read"]);
    assert!(answer.credential_expire_time.is_none());

    // Seconds ahead, so a loaded machine still creates and resolves the
    // key before it expires; then past the expiry.
    let expiry = chrono::Utc::now() + chrono::Duration::seconds(4);
    let soon = prost_types::Timestamp {
        seconds: expiry.timestamp(),
        nanos: 0,
    };
    let expiring = key(&mut admin, &acme, Some(soon)).await;
    let answer = resolve(&mut service, Target::Credential(expiring.clone()))
        .await
        .unwrap();
    assert_eq!(answer.credential_expire_time, Some(soon));
    let past_expiry = (expiry - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(past_expiry + Duration::from_millis(600)).await;
    let expired = resolve(&mut service, Target::Credential(expiring))
        .await
        .unwrap_err();
    assert_error(&expired, Code::PermissionDenied, "API_KEY_EXPIRED");

    // Over the bound: refused before any work, naming the field.
    let huge = format!("Bearer {}", "a".repeat(1 << 20));
    let refused = resolve(&mut service, Target::Credential(huge))
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&refused), ["credential"]);
    let many: Vec<String> = (0..101).map(|i| format!("10.0.{i}.0/24")).collect();
    let mut too_many = tenant("initech", "", &[]);
    too_many.allowed_source_ranges = many;
    let refused = create_tenant(&mut admin, too_many).await.unwrap_err();
    assert_eq!(invalid_fields(&refused), ["tenant.allowed_source_ranges"]);

    for (credential, reason) in [
        (
            "tdk_0123456789abcdef_nope".to_owned(),
            "CREDENTIALS_INVALID",
        ),
        ("not-a-key".to_owned(), "CREDENTIALS_INVALID"),
        (format!("{lasting}x"), "CREDENTIALS_INVALID"),
    ] {
        let refused = resolve(&mut service, Target::Credential(credential.clone()))
            .await
            .unwrap_err();
        assert_error(&refused, Code::PermissionDenied, reason);
        assert!(
            !refused.message().contains(&credential),
            "the credential is echoed"
        );
    }
    admin
        .suspend_tenant(pb::SuspendTenantRequest {
            name: acme.name.clone(),
            reason: "invoice overdue".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let suspended = resolve(&mut service, Target::Credential(lasting.clone()))
        .await
        .unwrap_err();
    assert_error(&suspended, Code::PermissionDenied, "TENANT_SUSPENDED");
    admin
        .delete_tenant(pb::DeleteTenantRequest {
            name: acme.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let deleted = resolve(&mut service, Target::Credential(lasting))
        .await
        .unwrap_err();
    assert_eq!(deleted.code(), Code::NotFound);
    server.stop().await;
}

/// GetTenant `name` through `client`, refused for its source address.
async fn refused_source(client: &mut Client, name: &str) -> tonic::Status {
    let refused = client.get_tenant(name_request(name)).await.unwrap_err();
    assert_error(
        &refused,
        Code::PermissionDenied,
        "SOURCE_ADDRESS_NOT_ALLOWED",
    );
    refused
}

/// A TenantService client connecting from `local`, sending `credentials`.
async fn client_from(server: &TestServer, local: &str, credentials: Credentials) -> Client {
    let local: IpAddr = local.parse().expect("an address");
    let channel = Channel::from_shared(format!("http://{}", server.address))
        .expect("endpoint")
        .local_address(Some(local))
        .connect()
        .await
        .expect("connect from a loopback address");
    TenantServiceClient::with_interceptor(channel, credentials)
}

async fn allowed_source_ranges_admit_keys_only_from_their_addresses(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = server.tenants();
    let acme = create_tenant(
        &mut admin,
        tenant("acme", "", &["127.0.0.2", "2001:db8::/32"]),
    )
    .await
    .unwrap();
    assert_eq!(
        acme.allowed_source_ranges,
        ["127.0.0.2/32", "2001:db8::/32"]
    );
    let secret = key(&mut admin, &acme, None).await;
    let mut allowed = client_from(&server, "127.0.0.2", Credentials::bearer(&secret)).await;
    let mut elsewhere = client_from(&server, "127.0.0.1", Credentials::bearer(&secret)).await;
    assert!(allowed.get_tenant(name_request(&acme.name)).await.is_ok());
    let refused = refused_source(&mut elsewhere, &acme.name).await;
    assert!(
        refused.message().contains("127.0.0.1"),
        "{}",
        refused.message()
    );
    // A forwarded address from an untrusted peer is not believed.
    let spoofing = Credentials::bearer(&secret).with("x-forwarded-for", "127.0.0.2");
    let mut spoofing = client_from(&server, "127.0.0.1", spoofing).await;
    refused_source(&mut spoofing, &acme.name).await;
    // Operators are not bound by a tenant's ranges.
    let mut operator = client_from(
        &server,
        "127.0.0.1",
        Credentials::bearer(crate::support::server::ADMIN_TOKEN),
    )
    .await;
    assert!(operator.get_tenant(name_request(&acme.name)).await.is_ok());

    // A change applies at once; clearing the ranges allows every address.
    let change = |ranges: &[&str]| pb::UpdateTenantRequest {
        tenant: Some(pb::Tenant {
            name: acme.name.clone(),
            allowed_source_ranges: ranges.iter().map(|range| (*range).to_owned()).collect(),
            ..Default::default()
        }),
        update_mask: mask(&["allowed_source_ranges"]),
    };
    admin
        .update_tenant(change(&["127.0.0.0/30"]))
        .await
        .unwrap();
    assert!(elsewhere.get_tenant(name_request(&acme.name)).await.is_ok());
    admin
        .update_tenant(change(&["127.0.0.2/32"]))
        .await
        .unwrap();
    refused_source(&mut elsewhere, &acme.name).await;
    admin.update_tenant(change(&[])).await.unwrap();
    assert!(elsewhere.get_tenant(name_request(&acme.name)).await.is_ok());

    let sloppy = admin
        .update_tenant(change(&["127.0.0.5/30", "nowhere"]))
        .await
        .unwrap_err();
    assert_eq!(
        invalid_fields(&sloppy),
        [
            "tenant.allowed_source_ranges[0]",
            "tenant.allowed_source_ranges[1]"
        ]
    );
    server.stop().await;
}

async fn trusted_proxies_forward_the_source_address(backend: Backend) {
    let server = TestServer::start_with(backend, |config| {
        config.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let mut admin = server.tenants();
    let acme = create_tenant(&mut admin, tenant("acme", "", &["203.0.113.0/24"]))
        .await
        .unwrap();
    let secret = key(&mut admin, &acme, None).await;
    let through_proxy =
        |forwarded: &str| Credentials::bearer(&secret).with("x-forwarded-for", forwarded);
    // The proxy (127.0.0.1) forwards the caller's address, appended to
    // whatever the caller wrote itself.
    let mut forwarded = client_from(
        &server,
        "127.0.0.1",
        through_proxy("198.51.100.1, 203.0.113.9"),
    )
    .await;
    assert!(forwarded.get_tenant(name_request(&acme.name)).await.is_ok());
    let mut outside = client_from(
        &server,
        "127.0.0.1",
        through_proxy("203.0.113.9, 198.51.100.1"),
    )
    .await;
    let refused = refused_source(&mut outside, &acme.name).await;
    assert!(
        refused.message().contains("198.51.100.1"),
        "{}",
        refused.message()
    );
    // From a peer that is not a trusted proxy, the header is ignored.
    let mut untrusted = client_from(&server, "127.0.0.2", through_proxy("203.0.113.9")).await;
    refused_source(&mut untrusted, &acme.name).await;
    server.stop().await;
}
