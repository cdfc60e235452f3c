//! ext_authz for end users and allowed source ranges: a JWT in the HTTP
//! request's `authorization` is admitted as a user of the tenant its claim
//! names, and a tenant's ranges are checked against Envoy's downstream
//! address (203.0.113.7 in every CheckRequest of these tests).

use jsonwebtoken::Algorithm;
use tenantd::access::jwt::TenantClaim;
use tenantd::pb;

use super::client::{Http, allowed, ask, denied};
use super::{assert_tenant, start};
use crate::context::issue_key;
use crate::support::Backend;
use crate::support::dns::TestDns;
use crate::support::fixtures::Client;
use crate::support::jwt::{AUDIENCE, ISSUER, Issuer, RSA_1, now, rsa, sign};

async fn tenant(client: &mut Client, slug: &str, ranges: &[&str]) -> pb::Tenant {
    client
        .create_tenant(pb::CreateTenantRequest {
            tenant: Some(pb::Tenant {
                slug: slug.to_owned(),
                allowed_source_ranges: ranges.iter().map(|range| (*range).to_owned()).collect(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("create a tenant")
        .into_inner()
}

fn user_of(tenant: &pb::Tenant) -> String {
    let claims = serde_json::json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "org_id": tenant.id,
        "roles": ["config:read"], "exp": now() + 300,
    });
    format!(
        "Bearer {}",
        sign("rsa-1", Algorithm::RS256, &rsa(RSA_1), &claims)
    )
}

fn request<'a>(headers: &'a [(&'a str, &'a str)]) -> Http<'a> {
    Http {
        headers,
        host: "gw.example.org",
        header_map: false,
    }
}

async fn users_and_source_ranges_at_the_gateway(backend: Backend) {
    let dns = TestDns::start().await;
    let issuer = Issuer::start().await;
    issuer.publish("rsa-1", &rsa(RSA_1), Algorithm::RS256);
    let issuers = vec![issuer.config(TenantClaim::Id, &[])];
    let server = start(backend, &dns, move |config| config.jwt_issuers = issuers).await;
    let mut operator = server.tenants();
    let acme = tenant(&mut operator, "acme", &["203.0.113.0/24"]).await;
    let globex = tenant(&mut operator, "globex", &["198.51.100.0/24"]).await;

    let user = user_of(&acme);
    let headers = [("authorization", user.as_str())];
    let answer = allowed(ask(&server, request(&headers)).await);
    assert_tenant(&answer, &acme, "user:alice", "user");

    // Globex accepts only 198.51.100.0/24: its key and its user are refused.
    let (globex_key, _) = issue_key(&mut operator, &globex.name, &["config:read"]).await;
    for authorization in [format!("Bearer {globex_key}"), user_of(&globex)] {
        let headers = [("authorization", authorization.as_str())];
        let (status, code, body) = denied(ask(&server, request(&headers)).await);
        assert_eq!((status, code), (403, 7), "{body}");
        assert_eq!(body["reason"], "SOURCE_ADDRESS_NOT_ALLOWED", "{body}");
    }
    server.stop().await;
}

crate::backend_tests!(users_and_source_ranges_at_the_gateway);
