//! End users over real gRPC: JWTs signed here with RSA and EC keys, their
//! keys served by a JWKS endpoint this test runs, each refusal answered
//! with its documented reason, key rotation picked up on an unknown `kid`,
//! and an issuer briefly down changing nothing for keys already fetched.

use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use tenantd::access::jwt::TenantClaim;
use tenantd::pb;
use tenantd::pb::resolve_tenant_request::Target;
use tonic::Code;

use crate::resolve::resolve;
use crate::support::fixtures::{Client, create, name_request};
use crate::support::jwt::{
    AUDIENCE, EC_1, ISSUER, Issuer, RSA_1, RSA_1_PUBLIC, RSA_2, now, rsa, sign,
};
use crate::support::server::{Credentials, SERVICE_TOKEN};
use crate::support::status::assert_error;
use crate::support::{Backend, TestServer};

/// Claims of a valid token for `org`, changed by `adjust`.
fn claims(org: &str, adjust: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut claims = json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "org_id": org,
        "roles": ["viewer", "unknown-role"], "iat": now(), "exp": now() + 300,
    });
    adjust(claims.as_object_mut().unwrap());
    claims
}

/// A token with `alg: none` and no signature.
fn unsigned(claims: &Value) -> String {
    use base64::Engine;
    let encode = |value: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
    };
    format!(
        "{}.{}.",
        encode(&json!({"alg": "none", "kid": "rsa-1"})),
        encode(claims)
    )
}

async fn get_own(
    server: &TestServer,
    token: &str,
    tenant: &pb::Tenant,
) -> Result<pb::Tenant, tonic::Status> {
    let mut client: Client = server.tenants_as(Credentials::bearer(token));
    client
        .get_tenant(name_request(&tenant.name))
        .await
        .map(tonic::Response::into_inner)
}

async fn refused(server: &TestServer, token: &str, tenant: &pb::Tenant, code: Code, reason: &str) {
    let refusal = get_own(server, token, tenant).await.unwrap_err();
    assert_error(&refusal, code, reason);
}

async fn tenant_with_external_id(client: &mut Client, slug: &str, external_id: &str) -> pb::Tenant {
    client
        .create_tenant(pb::CreateTenantRequest {
            tenant: Some(pb::Tenant {
                slug: slug.to_owned(),
                external_id: external_id.to_owned(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("create a tenant")
        .into_inner()
}

crate::backend_tests!(jwts_of_a_trusted_issuer_are_users_of_one_tenant);

async fn jwts_of_a_trusted_issuer_are_users_of_one_tenant(backend: Backend) {
    let issuer = Issuer::start().await;
    let ec = EncodingKey::from_ec_pem(EC_1).expect("an EC key");
    issuer.publish("rsa-1", &rsa(RSA_1), Algorithm::RS256);
    issuer.publish("ec-1", &ec, Algorithm::ES256);
    let config = issuer.config(TenantClaim::ExternalId, &[("viewer", &["tenant:read"])]);
    let server =
        TestServer::start_with(backend, |settings| settings.jwt_issuers = vec![config]).await;
    let mut admin = server.tenants();
    let acme = tenant_with_external_id(&mut admin, "acme", "org_acme").await;
    let globex = tenant_with_external_id(&mut admin, "globex", "org_globex").await;

    // Valid tokens, RSA and EC: the user reads its own tenant.
    let by_rsa = sign(
        "rsa-1",
        Algorithm::RS256,
        &rsa(RSA_1),
        &claims("org_acme", |_| {}),
    );
    assert_eq!(get_own(&server, &by_rsa, &acme).await.unwrap().id, acme.id);
    let by_ec = sign("ec-1", Algorithm::ES256, &ec, &claims("org_acme", |_| {}));
    assert_eq!(get_own(&server, &by_ec, &acme).await.unwrap().id, acme.id);
    // Its roles map to tenantd scopes; the unknown role grants nothing.
    let mut service = server.tenants_as(Credentials::bearer(SERVICE_TOKEN));
    let seen = resolve(&mut service, Target::Credential(by_rsa.clone()))
        .await
        .unwrap();
    assert_eq!(
        (seen.tenant_id.as_str(), seen.caller.as_str()),
        (acme.id.as_str(), "user:alice")
    );
    assert_eq!(seen.scopes, ["tenant:read"]);
    assert!(seen.credential_expire_time.is_some());
    // One tenant only, within its scopes.
    refused(
        &server,
        &by_rsa,
        &globex,
        Code::PermissionDenied,
        "TENANT_MISMATCH",
    )
    .await;
    let mut user = server.tenants_as(Credentials::bearer(&by_rsa));
    let keys = user
        .list_api_keys(pb::ListApiKeysRequest {
            parent: acme.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&keys, Code::PermissionDenied, "SCOPE_MISSING");

    let rsa_1 = rsa(RSA_1);
    let cases = [
        (
            claims("org_acme", |c| {
                c.insert("exp".into(), json!(now() - 60));
            }),
            "JWT_EXPIRED",
        ),
        (
            claims("org_acme", |c| {
                c.insert("nbf".into(), json!(now() + 600));
            }),
            "JWT_NOT_YET_VALID",
        ),
        (
            claims("org_acme", |c| {
                c.insert("iss".into(), json!("https://elsewhere.test/"));
            }),
            "JWT_ISSUER_UNKNOWN",
        ),
        (
            claims("org_acme", |c| {
                c.insert("aud".into(), json!("another-service"));
            }),
            "JWT_AUDIENCE_INVALID",
        ),
        (
            claims("org_acme", |c| {
                c.remove("org_id");
            }),
            "JWT_TENANT_CLAIM_MISSING",
        ),
    ];
    for (claims, reason) in &cases {
        let token = sign("rsa-1", Algorithm::RS256, &rsa_1, claims);
        refused(&server, &token, &acme, Code::Unauthenticated, reason).await;
    }
    let valid = claims("org_acme", |_| {});
    // A token over the bound is refused before it is decoded.
    let padded = claims("org_acme", |c| {
        c.insert("padding".into(), json!("x".repeat(9000)));
    });
    let long = sign("rsa-1", Algorithm::RS256, &rsa_1, &padded);
    refused(
        &server,
        &long,
        &acme,
        Code::Unauthenticated,
        "CREDENTIALS_MALFORMED",
    )
    .await;
    // Signed by another key under a published kid: the signature fails.
    let forged = sign("rsa-1", Algorithm::RS256, &rsa(RSA_2), &valid);
    refused(
        &server,
        &forged,
        &acme,
        Code::Unauthenticated,
        "CREDENTIALS_INVALID",
    )
    .await;
    // `alg: none`, and HS256 "signed" with the issuer's public key.
    refused(
        &server,
        &unsigned(&valid),
        &acme,
        Code::Unauthenticated,
        "JWT_ALGORITHM_NOT_ALLOWED",
    )
    .await;
    let hmac = sign(
        "rsa-1",
        Algorithm::HS256,
        &EncodingKey::from_secret(RSA_1_PUBLIC),
        &valid,
    );
    refused(
        &server,
        &hmac,
        &acme,
        Code::Unauthenticated,
        "JWT_ALGORITHM_NOT_ALLOWED",
    )
    .await;

    // An unknown kid is refused until the issuer publishes it (rotation).
    let rotated = sign("rsa-2", Algorithm::RS256, &rsa(RSA_2), &valid);
    refused(
        &server,
        &rotated,
        &acme,
        Code::Unauthenticated,
        "JWT_KEY_UNKNOWN",
    )
    .await;
    issuer.publish("rsa-2", &rsa(RSA_2), Algorithm::RS256);
    assert_eq!(get_own(&server, &rotated, &acme).await.unwrap().id, acme.id);

    // The issuer down: keys already fetched still verify.
    issuer.set_down(true);
    let unknown = sign("rsa-3", Algorithm::RS256, &rsa(RSA_2), &valid);
    refused(
        &server,
        &unknown,
        &acme,
        Code::Unauthenticated,
        "JWT_KEY_UNKNOWN",
    )
    .await;
    assert_eq!(get_own(&server, &by_ec, &acme).await.unwrap().id, acme.id);
    issuer.set_down(false);

    // A tenant claim naming a deleted tenant.
    let doomed = create(&mut admin, "doomed").await;
    admin
        .update_tenant(pb::UpdateTenantRequest {
            tenant: Some(pb::Tenant {
                name: doomed.name.clone(),
                external_id: "org_doomed".into(),
                ..Default::default()
            }),
            update_mask: crate::support::fixtures::mask(&["external_id"]),
        })
        .await
        .unwrap();
    let of_doomed = sign(
        "rsa-1",
        Algorithm::RS256,
        &rsa_1,
        &claims("org_doomed", |_| {}),
    );
    assert!(get_own(&server, &of_doomed, &doomed).await.is_ok());
    admin
        .delete_tenant(pb::DeleteTenantRequest {
            name: doomed.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    refused(
        &server,
        &of_doomed,
        &doomed,
        Code::NotFound,
        "TENANT_NOT_FOUND",
    )
    .await;
    server.stop().await;
}
