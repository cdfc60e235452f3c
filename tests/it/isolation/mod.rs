//! The isolation matrix: every RPC of tenantd's services, enumerated from
//! the compiled descriptor set, called by twelve kinds of caller (API
//! keys, end users' JWTs, tokens) that all name
//! tenant A, each answer checked against the exact code (and ErrorInfo
//! reason) that the access table [`tenantd::access::methods::METHODS`] and
//! the gate's order of checks promise. Tenant B's key gets the same refusal
//! whether the tenant it names exists or not, so it never learns whether A
//! exists.
//!
//! One generic client sends raw bytes, so every RPC is called without a
//! generated client; a new RPC without a row in the table fails here. Only
//! TenantService needs request bodies, from one table that fails on a
//! method it does not know.

use chrono::{DateTime, Utc};
use tenantd::access::api_key::SCOPES;
use tenantd::access::methods::MethodAccess;
use tenantd::pb;
use tonic::Code;
use uuid::Uuid;

mod bodies;
mod matrix;
mod report;
mod rpcs;

use bodies::{Named, fresh_host, fresh_slug};
use rpcs::Rpc;

use crate::support::fixtures::{self, Client, create};

/// The first service with handlers.
const TENANT_SERVICE: &str = "TenantService";
/// The second service with handlers.
const QUOTA_SERVICE: &str = "QuotaService";
/// The service of configuration layers.
const CONFIG_SERVICE: &str = "ConfigService";
/// The metering service.
const USAGE_SERVICE: &str = "UsageService";
/// The lifecycle events stream.
const EVENT_SERVICE: &str = "EventService";
/// Webhook endpoints and deliveries.
const WEBHOOK_SERVICE: &str = "WebhookService";
/// Envoy's rate limit service, as the access table names it.
const RATE_LIMIT_SERVICE: &str = "envoy.service.ratelimit.v3.RateLimitService";
/// A bearer token no server accepts.
const WRONG_TOKEN: &str = "not-a-real-token-0000000000";
/// How long after its creation the expired key expires.
const KEY_LIFETIME_SECONDS: i64 = 3;
/// How many RPCs are set up, and their matrices run, at once.
const CONCURRENT_RPCS: usize = 8;

/// A JWT of the matrix's issuer for a user of tenant `id` with every scope.
fn user_token(id: &str) -> String {
    use crate::support::jwt::{AUDIENCE, ISSUER, RSA_1, now, rsa, sign};
    let claims = serde_json::json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "isolation-matrix", "org_id": id,
        "roles": SCOPES, "exp": now() + 3600,
    });
    sign(
        "rsa-1",
        jsonwebtoken::Algorithm::RS256,
        &rsa(RSA_1),
        &claims,
    )
}

/// The callers of the matrix, in the order they call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    NoCredentials,
    WrongToken,
    RevokedKey,
    ExpiredKey,
    SuspendedTenantKey,
    TenantBKey,
    TenantBUser,
    LackingScopeKey,
    Service,
    TenantAKey,
    TenantAUser,
    Admin,
}

impl Caller {
    /// Refused callers first, then those that may change tenant A; the
    /// operator, who may change anything, last of all.
    const ALL: [Caller; 12] = [
        Caller::NoCredentials,
        Caller::WrongToken,
        Caller::RevokedKey,
        Caller::ExpiredKey,
        Caller::SuspendedTenantKey,
        Caller::TenantBKey,
        Caller::TenantBUser,
        Caller::LackingScopeKey,
        Caller::Service,
        Caller::TenantAKey,
        Caller::TenantAUser,
        Caller::Admin,
    ];

    fn label(self) -> &'static str {
        match self {
            Caller::NoCredentials => "no credentials",
            Caller::WrongToken => "wrong token",
            Caller::RevokedKey => "revoked key of A",
            Caller::ExpiredKey => "expired key of A",
            Caller::SuspendedTenantKey => "key of a suspended tenant",
            Caller::TenantBKey => "tenant B key",
            Caller::TenantBUser => "tenant B user (JWT)",
            Caller::LackingScopeKey => "key of A lacking the scope",
            Caller::Service => "service",
            Caller::TenantAKey => "tenant A key",
            Caller::TenantAUser => "tenant A user (JWT)",
            Caller::Admin => "admin",
        }
    }

    /// Whether the table lets this caller call `rule`'s method for A.
    fn admitted(self, rule: &MethodAccess) -> bool {
        match self {
            Caller::Admin => true,
            Caller::Service => rule.service_callers,
            Caller::TenantAKey | Caller::TenantAUser => rule.tenant_scope.is_some(),
            _ => false,
        }
    }
}

/// An expected answer: its code and, when it carries one, its reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Expected {
    code: Code,
    reason: Option<&'static str>,
}

impl Expected {
    const OK: Expected = Expected {
        code: Code::Ok,
        reason: None,
    };

    const UNIMPLEMENTED: Expected = Expected {
        code: Code::Unimplemented,
        reason: None,
    };

    const fn error(code: Code, reason: &'static str) -> Self {
        Self {
            code,
            reason: Some(reason),
        }
    }
}

/// What `caller` gets for a call of `rule`'s method naming tenant A, when
/// an admitted call gets `admitted`; refusals follow the gate's order:
/// credentials, the key's own tenant, the method, the named tenant.
fn expected(caller: Caller, rule: &MethodAccess, admitted: Expected) -> Expected {
    if caller.admitted(rule) {
        return admitted;
    }
    let scoped = rule.tenant_scope.is_some();
    match caller {
        Caller::NoCredentials => Expected::error(Code::Unauthenticated, "CREDENTIALS_MISSING"),
        Caller::WrongToken => Expected::error(Code::Unauthenticated, "CREDENTIALS_INVALID"),
        Caller::RevokedKey => Expected::error(Code::Unauthenticated, "API_KEY_REVOKED"),
        Caller::ExpiredKey => Expected::error(Code::Unauthenticated, "API_KEY_EXPIRED"),
        Caller::SuspendedTenantKey => Expected::error(Code::PermissionDenied, "TENANT_SUSPENDED"),
        Caller::TenantBKey | Caller::TenantBUser if scoped => {
            Expected::error(Code::PermissionDenied, "TENANT_MISMATCH")
        }
        Caller::LackingScopeKey if scoped => {
            Expected::error(Code::PermissionDenied, "SCOPE_MISSING")
        }
        _ => Expected::error(Code::PermissionDenied, "CALLER_NOT_ALLOWED"),
    }
}

fn key_request(
    parent: &str,
    scopes: &[&str],
    expire_time: Option<DateTime<Utc>>,
) -> pb::CreateApiKeyRequest {
    pb::CreateApiKeyRequest {
        parent: parent.to_owned(),
        api_key: Some(pb::ApiKey {
            display_name: "isolation matrix".into(),
            scopes: scopes.iter().map(|scope| (*scope).to_owned()).collect(),
            expire_time: expire_time.map(|at| prost_types::Timestamp {
                seconds: at.timestamp(),
                nanos: 0,
            }),
            ..Default::default()
        }),
    }
}

async fn issue(
    admin: &mut Client,
    parent: &str,
    scopes: &[&str],
    expire_time: Option<DateTime<Utc>>,
) -> pb::CreateApiKeyResponse {
    admin
        .create_api_key(key_request(parent, scopes, expire_time))
        .await
        .expect("create API key")
        .into_inner()
}

/// A fresh ACTIVE tenant A, as an admitted caller needs it.
struct TenantA {
    /// What the request bodies name.
    named: Named,
    /// A key of A with every scope.
    secret: String,
}

async fn tenant_a(admin: &mut Client) -> TenantA {
    let tenant = create(admin, &fresh_slug()).await;
    let secret = issue(admin, &tenant.name, &SCOPES, None).await.secret;
    let key = issue(admin, &tenant.name, &["tenant:read"], None)
        .await
        .api_key
        .expect("the key")
        .name;
    let host = fresh_host("a");
    fixtures::create_domain(admin, &tenant.name, &host).await;
    TenantA {
        named: Named {
            id: tenant.id,
            host,
            key,
        },
        secret,
    }
}

/// One RPC's tenant A, with the keys of A its refused callers present.
struct MatrixA {
    /// The tenant, its all-scopes key and what the bodies name.
    tenant: TenantA,
    /// A key whose one scope is not the one the RPC needs.
    lacking_scope: String,
    /// A revoked key with every scope.
    revoked: String,
    /// A key with every scope, expired by the time the matrix runs.
    expired: String,
    /// When `expired` expires.
    expire_time: DateTime<Utc>,
}

async fn matrix_a(admin: &mut Client, rule: &MethodAccess) -> MatrixA {
    let tenant = tenant_a(admin).await;
    let parent = format!("tenants/{}", tenant.named.id);
    let other_scope = SCOPES
        .iter()
        .find(|scope| Some(**scope) != rule.tenant_scope)
        .expect("a scope the RPC does not need");
    let lacking_scope = issue(admin, &parent, &[other_scope], None).await.secret;
    let revoked = issue(admin, &parent, &SCOPES, None).await;
    admin
        .revoke_api_key(pb::RevokeApiKeyRequest {
            name: revoked.api_key.expect("the key").name,
        })
        .await
        .expect("revoke API key");
    let expire_time = DateTime::from_timestamp(Utc::now().timestamp() + KEY_LIFETIME_SECONDS, 0)
        .expect("a time in range");
    let expired = issue(admin, &parent, &SCOPES, Some(expire_time))
        .await
        .secret;
    MatrixA {
        tenant,
        lacking_scope,
        revoked: revoked.secret,
        expired,
        expire_time,
    }
}

/// What every RPC's matrix shares: no call the table admits changes them.
struct Shared {
    /// A key of ACTIVE tenant B with every scope.
    tenant_b: String,
    /// A user of tenant B with every scope.
    user_b: String,
    /// A key with every scope of a tenant suspended after it was issued.
    suspended: String,
    /// A tenant, domain and key that do not exist.
    ghost: Named,
}

async fn shared(admin: &mut Client) -> Shared {
    let tenant_b = create(admin, &fresh_slug()).await;
    let key_b = issue(admin, &tenant_b.name, &SCOPES, None).await.secret;
    let suspended = create(admin, &fresh_slug()).await;
    let key_suspended = issue(admin, &suspended.name, &SCOPES, None).await.secret;
    admin
        .suspend_tenant(pb::SuspendTenantRequest {
            name: suspended.name,
            reason: "isolation matrix".into(),
            ..Default::default()
        })
        .await
        .expect("suspend tenant");
    let ghost_id = Uuid::new_v4().to_string();
    Shared {
        tenant_b: key_b,
        user_b: user_token(&tenant_b.id),
        suspended: key_suspended,
        ghost: Named {
            key: format!("tenants/{ghost_id}/apiKeys/{}", Uuid::new_v4()),
            id: ghost_id,
            host: fresh_host("ghost"),
        },
    }
}
