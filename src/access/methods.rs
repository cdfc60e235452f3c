//! Who may call what: the method × caller matrix, in one table.
//!
//! Every RPC tenantd serves has exactly one row in [`METHODS`]; the tenant
//! context layer refuses a method without a row, and a test checks the table
//! against the compiled descriptor set (and Envoy's services, which come
//! generated from `envoy-types`, against [`ENVOY_SERVICES`]), so a new RPC
//! cannot ship unclassified. The README's access table is rendered from this table by
//! [`markdown_table`] and checked by a test, so the two cannot disagree.

/// What a caller needs to name a tenant for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The method acts on one tenant's data: the tenant is resolved, its
    /// status checked, and a tenant key reaches only its own tenant.
    Tenant,
    /// The method acts on shared or cross-tenant data (the tenant list, the
    /// plan and metric catalogues, resolution itself).
    Platform,
}

/// The access rule of one RPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodAccess {
    /// The gRPC service: without the package for tenantd's own
    /// (`TenantService`), fully qualified for others
    /// (`envoy.service.ratelimit.v3.RateLimitService`).
    pub service: &'static str,
    /// The RPC name (`GetTenant`).
    pub method: &'static str,
    /// Whether service tokens may call it (data-path methods).
    pub service_callers: bool,
    /// The scope a tenant API key or an end user needs ([`ANY_SCOPE`]: any
    /// key or user of the tenant); `None` when neither may call it.
    pub tenant_scope: Option<&'static str>,
    /// Whether it acts on one tenant.
    pub target: Target,
}

/// A `tenant_scope` any key of the tenant holds: for the gateway's HTTP
/// requests that ask no particular scope, never for a row of [`METHODS`].
pub const ANY_SCOPE: &str = "*";

/// The protobuf package every tenantd service lives in.
pub const PACKAGE: &str = "tenantd.v1";
/// Envoy's rate limit service, as its generated server names it.
pub const ENVOY_RATELIMIT: &str =
    envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_service_server::SERVICE_NAME;
/// Envoy's external authorization service, as its generated server names it.
pub const ENVOY_AUTHORIZATION: &str =
    envoy_types::pb::envoy::service::auth::v3::authorization_server::SERVICE_NAME;
/// Envoy's services tenantd serves, with their RPCs (all unary). They are
/// not in tenantd's descriptor set, so this list is what the tests check
/// the table against for them.
pub const ENVOY_SERVICES: &[(&str, &[&str])] = &[
    (ENVOY_RATELIMIT, &["ShouldRateLimit"]),
    (ENVOY_AUTHORIZATION, &["Check"]),
];

impl MethodAccess {
    /// The fully qualified service name, as it appears in call paths.
    pub fn full_service(&self) -> String {
        if self.service.contains('.') {
            self.service.to_owned()
        } else {
            format!("{PACKAGE}.{}", self.service)
        }
    }
}

const fn rule(
    service: &'static str,
    method: &'static str,
    service_callers: bool,
    tenant_scope: Option<&'static str>,
    target: Target,
) -> MethodAccess {
    MethodAccess {
        service,
        method,
        service_callers,
        tenant_scope,
        target,
    }
}

use Target::{Platform, Tenant};

const TS: &str = "TenantService";
const CS: &str = "ConfigService";
const QS: &str = "QuotaService";
const US: &str = "UsageService";
const ES: &str = "EventService";
const WS: &str = "WebhookService";
const RLS: &str = ENVOY_RATELIMIT;
const AUTHZ: &str = ENVOY_AUTHORIZATION;

/// Every RPC and who may call it. Admin callers may call all of them.
pub const METHODS: &[MethodAccess] = &[
    rule(TS, "CreateTenant", false, None, Platform),
    rule(TS, "GetTenant", false, Some("tenant:read"), Tenant),
    rule(TS, "ListTenants", false, None, Platform),
    rule(TS, "UpdateTenant", false, None, Tenant),
    rule(TS, "DeleteTenant", false, None, Tenant),
    rule(TS, "UndeleteTenant", false, None, Tenant),
    rule(TS, "SuspendTenant", false, None, Tenant),
    rule(TS, "ActivateTenant", false, None, Tenant),
    rule(TS, "CreateDomain", false, Some("domains:manage"), Tenant),
    rule(TS, "ListDomains", false, Some("tenant:read"), Tenant),
    rule(TS, "DeleteDomain", false, Some("domains:manage"), Tenant),
    rule(TS, "VerifyDomain", false, Some("domains:manage"), Tenant),
    rule(TS, "CreateApiKey", false, Some("keys:manage"), Tenant),
    rule(TS, "ListApiKeys", false, Some("keys:manage"), Tenant),
    rule(TS, "RevokeApiKey", false, Some("keys:manage"), Tenant),
    rule(TS, "RotateApiKey", false, Some("keys:manage"), Tenant),
    rule(TS, "ListAuditEvents", false, Some("audit:read"), Tenant),
    rule(TS, "ResolveTenant", true, None, Platform),
    rule(TS, "ExportTenant", false, None, Tenant),
    rule(TS, "ImportTenant", false, None, Platform),
    rule(TS, "GetTenantHealth", false, None, Tenant),
    rule(CS, "GetConfig", true, Some("config:read"), Tenant),
    rule(CS, "UpdateConfig", false, Some("config:write"), Tenant),
    rule(CS, "ListConfigVersions", true, Some("config:read"), Tenant),
    rule(CS, "GetConfigVersion", true, Some("config:read"), Tenant),
    rule(CS, "RollbackConfig", false, Some("config:write"), Tenant),
    rule(CS, "GetBranding", true, Some("config:read"), Tenant),
    rule(CS, "UpdateBranding", false, Some("config:write"), Tenant),
    rule(CS, "CreateFlag", false, None, Platform),
    rule(CS, "GetFlag", true, None, Platform),
    rule(CS, "ListFlags", true, None, Platform),
    rule(CS, "UpdateFlag", false, None, Platform),
    rule(CS, "DeleteFlag", false, None, Platform),
    rule(CS, "SetFlagOverride", false, Some("config:write"), Tenant),
    rule(CS, "ListFlagOverrides", true, Some("config:read"), Tenant),
    rule(
        CS,
        "DeleteFlagOverride",
        false,
        Some("config:write"),
        Tenant,
    ),
    rule(CS, "EvaluateFlag", true, Some("config:read"), Tenant),
    rule(CS, "EvaluateFlags", true, Some("config:read"), Tenant),
    rule(CS, "WatchConfig", true, Some("config:read"), Tenant),
    rule(QS, "CreatePlan", false, None, Platform),
    rule(QS, "GetPlan", false, None, Platform),
    rule(QS, "ListPlans", false, None, Platform),
    rule(QS, "UpdatePlan", false, None, Platform),
    rule(QS, "SetQuotaOverride", false, None, Tenant),
    rule(QS, "ListQuotaOverrides", false, Some("quota:check"), Tenant),
    rule(QS, "DeleteQuotaOverride", false, None, Tenant),
    rule(QS, "CheckQuota", true, Some("quota:check"), Tenant),
    rule(QS, "AllocateQuota", true, Some("quota:allocate"), Tenant),
    rule(QS, "ReleaseQuota", true, Some("quota:allocate"), Tenant),
    rule(QS, "GetQuotaStatus", true, Some("quota:check"), Tenant),
    rule(US, "CreateMetric", false, None, Platform),
    rule(US, "GetMetric", true, Some("usage:read"), Platform),
    rule(US, "ListMetrics", true, Some("usage:read"), Platform),
    rule(US, "UpdateMetric", false, None, Platform),
    rule(US, "ReportUsage", true, Some("usage:write"), Tenant),
    rule(US, "StreamUsage", true, Some("usage:write"), Tenant),
    rule(US, "QueryUsage", false, Some("usage:read"), Tenant),
    rule(US, "GetUsageSummary", false, Some("usage:read"), Tenant),
    rule(US, "ExportUsage", false, None, Platform),
    // The whole fleet's events for operators and services; a tenant's key
    // or user reads its own tenant's only (the handler scopes it).
    rule(ES, "WatchEvents", true, Some("events:read"), Platform),
    // A tenant's endpoints for operators and the tenant's own key or user
    // (the handler holds it to its tenant); the fleet's for operators only.
    rule(
        WS,
        "CreateWebhookEndpoint",
        false,
        Some("webhooks:manage"),
        Platform,
    ),
    rule(
        WS,
        "GetWebhookEndpoint",
        false,
        Some("webhooks:manage"),
        Platform,
    ),
    rule(
        WS,
        "ListWebhookEndpoints",
        false,
        Some("webhooks:manage"),
        Platform,
    ),
    rule(
        WS,
        "DeleteWebhookEndpoint",
        false,
        Some("webhooks:manage"),
        Platform,
    ),
    rule(
        WS,
        "ListWebhookDeliveries",
        false,
        Some("webhooks:manage"),
        Platform,
    ),
    rule(
        WS,
        "RedeliverWebhookDelivery",
        false,
        Some("webhooks:manage"),
        Platform,
    ),
    rule(RLS, "ShouldRateLimit", true, Some("quota:check"), Tenant),
    // The gateway's own call: the tenant is the HTTP request's, which the
    // handler authenticates and resolves through the gate itself.
    rule(AUTHZ, "Check", true, None, Platform),
];

/// The rule of the RPC at `path` (`/tenantd.v1.TenantService/GetTenant`),
/// or `None` for paths tenantd does not serve.
pub fn method_access(path: &str) -> Option<&'static MethodAccess> {
    let (service, method) = path.strip_prefix('/')?.split_once('/')?;
    let short = service
        .strip_prefix(PACKAGE)
        .and_then(|rest| rest.strip_prefix('.'));
    METHODS.iter().find(|rule| {
        rule.method == method
            && match short {
                Some(short) => !rule.service.contains('.') && rule.service == short,
                None => rule.service.contains('.') && rule.service == service,
            }
    })
}

/// Whether `path` is served to everyone: health checks and reflection.
pub fn is_open(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.Health/")
        || path.starts_with("/grpc.reflection.v1.ServerReflection/")
        || path.starts_with("/grpc.reflection.v1alpha.ServerReflection/")
}

/// The access table as it appears in the README: one row per RPC.
pub fn markdown_table() -> String {
    let mut table = String::from(
        "| RPC | admin | service | tenant API key or user (scope) | acts on |\n| --- | --- | --- | --- | --- |\n",
    );
    for rule in METHODS {
        let service = if rule.service_callers { "yes" } else { "no" };
        let tenant = rule
            .tenant_scope
            .map_or_else(|| "no".to_owned(), |scope| format!("`{scope}`"));
        let target = match rule.target {
            Target::Tenant => "one tenant",
            Target::Platform => "platform",
        };
        table.push_str(&format!(
            "| `{}.{}` | yes | {service} | {tenant} | {target} |\n",
            rule.service, rule.method
        ));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_find_their_rule() {
        let rule = method_access("/tenantd.v1.TenantService/GetTenant").expect("a rule");
        assert_eq!(rule.tenant_scope, Some("tenant:read"));
        assert!(method_access("/tenantd.v1.TenantService/Nope").is_none());
        assert!(method_access("/other.v1.TenantService/GetTenant").is_none());
        assert!(method_access("/tenantd.v1TenantService/GetTenant").is_none());
        let envoy = "/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit";
        assert_eq!(
            method_access(envoy).expect("envoy").tenant_scope,
            Some("quota:check")
        );
        assert!(
            method_access(
                "/tenantd.v1.envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit"
            )
            .is_none()
        );
        let check = method_access("/envoy.service.auth.v3.Authorization/Check").expect("check");
        assert_eq!((check.service_callers, check.tenant_scope), (true, None));
        assert!(is_open("/grpc.health.v1.Health/Check"));
        assert!(!is_open("/tenantd.v1.TenantService/GetTenant"));
    }

    #[test]
    fn every_rule_is_unique_and_every_scope_is_grantable() {
        for (index, rule) in METHODS.iter().enumerate() {
            assert!(
                !METHODS[..index]
                    .iter()
                    .any(|other| other.service == rule.service && other.method == rule.method),
                "{}.{} is listed twice",
                rule.service,
                rule.method
            );
            if let Some(scope) = rule.tenant_scope {
                assert!(
                    crate::access::api_key::SCOPES.contains(&scope),
                    "{scope} cannot be granted to a key"
                );
            }
        }
    }
}
