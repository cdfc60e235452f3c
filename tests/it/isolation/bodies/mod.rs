//! The request bodies of the isolation matrix: for every RPC with a
//! handler, a body naming tenant A and the answer an admitted caller gets
//! for it. A method without a body here fails the matrix.

mod config;
mod events;

use config::config_body;
use events::webhook_body;

use prost::Message;
use tenantd::pb;
use tenantd::pb::resolve_tenant_request::Target;
use tonic::Code;
use uuid::Uuid;

use super::{
    CONFIG_SERVICE, EVENT_SERVICE, Expected, QUOTA_SERVICE, RATE_LIMIT_SERVICE, Rpc,
    TENANT_SERVICE, USAGE_SERVICE, WEBHOOK_SERVICE, key_request,
};
use crate::support::fixtures;

/// What the request bodies name: a tenant, one of its domains and one of
/// its keys.
pub(super) struct Named {
    /// The tenant's id.
    pub(super) id: String,
    /// A domain of the tenant.
    pub(super) host: String,
    /// The resource name of a key to revoke or rotate.
    pub(super) key: String,
}

/// A slug no other test uses.
pub(super) fn fresh_slug() -> String {
    format!("iso-{}", &Uuid::new_v4().simple().to_string()[..16])
}

/// A hostname no other test uses.
pub(super) fn fresh_host(label: &str) -> String {
    format!("{label}-{}.example.com", Uuid::new_v4().simple())
}

/// QuotaService bodies: the data-path methods name the tenant and charge
/// nothing (check-only, or a release of what is not held), the plan
/// methods are platform-wide, the override methods act on tenant A.
fn quota_body(rpc: &Rpc, tenant: &Named) -> (Vec<u8>, Expected) {
    let parent = format!("tenants/{}", tenant.id);
    let costs = vec![pb::QuotaCost {
        quota: "users".to_owned(),
        cost: 1,
    }];
    let check_only = pb::QuotaMode::CheckOnly.into();
    match rpc.method.as_str() {
        "ListPlans" => ok(pb::ListPlansRequest::default()),
        "GetPlan" => ok(pb::GetPlanRequest {
            name: "plans/starter".to_owned(),
        }),
        "CreatePlan" | "UpdatePlan" => refused(
            pb::CreatePlanRequest::default(),
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
        ),
        "CheckQuota" => ok(pb::CheckQuotaRequest {
            parent,
            costs,
            mode: check_only,
            request_id: String::new(),
        }),
        "AllocateQuota" => ok(pb::AllocateQuotaRequest {
            parent,
            costs,
            mode: check_only,
            request_id: String::new(),
        }),
        "ReleaseQuota" => ok(pb::ReleaseQuotaRequest {
            parent,
            costs,
            request_id: String::new(),
        }),
        "GetQuotaStatus" => ok(pb::GetQuotaStatusRequest {
            parent: parent.clone(),
            quotas: Vec::new(),
        }),
        "SetQuotaOverride" => ok(pb::SetQuotaOverrideRequest {
            quota_override: Some(pb::QuotaOverride {
                name: format!("{parent}/quotaOverrides/users"),
                limit: 10,
                reason: "support ticket 42".to_owned(),
                ..Default::default()
            }),
            force: false,
        }),
        "ListQuotaOverrides" => ok(pb::ListQuotaOverridesRequest {
            parent,
            ..Default::default()
        }),
        "DeleteQuotaOverride" => refused(
            pb::DeleteQuotaOverrideRequest {
                name: format!("{parent}/quotaOverrides/users"),
                ..Default::default()
            },
            Code::NotFound,
            "QUOTA_OVERRIDE_NOT_FOUND",
        ),
        _ => panic!("no request body for {}", rpc.label()),
    }
}

/// UsageService bodies: a batch for tenant A (its one event names a metric
/// the catalogue lacks, so it is rejected, but the call succeeds), a query
/// of A; catalogue writes are refused as malformed.
fn usage_body(rpc: &Rpc, tenant: &Named) -> (Vec<u8>, Expected) {
    let parent = format!("tenants/{}", tenant.id);
    let now = chrono::Utc::now();
    let events = vec![pb::UsageEvent {
        event_id: Uuid::new_v4().to_string(),
        tenant: parent.clone(),
        metric: "matrix_metric".to_owned(),
        quantity: 1.0,
        occurred_time: Some(prost_types::Timestamp {
            seconds: now.timestamp(),
            nanos: 0,
        }),
        dimensions: Default::default(),
    }];
    let today = now.format("%Y-%m-%d").to_string();
    match rpc.method.as_str() {
        "ListMetrics" => ok(pb::ListMetricsRequest::default()),
        "GetMetric" => refused(
            pb::GetMetricRequest {
                name: "metrics/matrix_metric".to_owned(),
            },
            Code::NotFound,
            "METRIC_NOT_FOUND",
        ),
        "CreateMetric" | "UpdateMetric" => refused(
            pb::CreateMetricRequest::default(),
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
        ),
        "ReportUsage" => ok(pb::ReportUsageRequest { events }),
        "StreamUsage" => ok(pb::StreamUsageRequest {
            sequence: 1,
            events,
        }),
        "QueryUsage" => ok(pb::QueryUsageRequest {
            parent,
            start_day: today.clone(),
            end_day: today,
            ..Default::default()
        }),
        "GetUsageSummary" => ok(pb::GetUsageSummaryRequest {
            parent,
            ..Default::default()
        }),
        "ExportUsage" => ok(pb::ExportUsageRequest {
            tenants: vec![parent],
            start_day: today.clone(),
            end_day: today,
            ..Default::default()
        }),
        other => panic!("no request body for UsageService.{other}"),
    }
}

/// Envoy's ShouldRateLimit: one descriptor naming tenant A by id.
fn rate_limit_body(rpc: &Rpc, tenant: &Named) -> (Vec<u8>, Expected) {
    use tenantd::envoy::extensions::common::ratelimit::v3::RateLimitDescriptor;
    use tenantd::envoy::extensions::common::ratelimit::v3::rate_limit_descriptor::Entry;
    assert_eq!(
        rpc.method,
        "ShouldRateLimit",
        "no request body for {}",
        rpc.label()
    );
    ok(tenantd::envoy::service::ratelimit::v3::RateLimitRequest {
        domain: "isolation".to_owned(),
        descriptors: vec![RateLimitDescriptor {
            entries: vec![Entry {
                key: "tenant_id".to_owned(),
                value: tenant.id.clone(),
            }],
            ..Default::default()
        }],
        hits_addend: 1,
    })
}

/// EventService: a watch of tenant A's events from the start of the log,
/// whose first message is A's creation.
fn event_body(rpc: &Rpc, tenant: &Named) -> (Vec<u8>, Expected) {
    assert_eq!(
        rpc.method,
        "WatchEvents",
        "no request body for {}",
        rpc.label()
    );
    ok(pb::WatchEventsRequest {
        tenants: vec![format!("tenants/{}", tenant.id)],
        after_sequence: Some(0),
        ..Default::default()
    })
}

/// A request body an admitted caller gets OK for.
fn ok(message: impl Message) -> (Vec<u8>, Expected) {
    (message.encode_to_vec(), Expected::OK)
}

/// A request body an admitted caller gets `code` and `reason` for.
fn refused(message: impl Message, code: Code, reason: &'static str) -> (Vec<u8>, Expected) {
    (message.encode_to_vec(), Expected::error(code, reason))
}

/// The request body of `rpc` naming `tenant`, and what an admitted caller
/// gets for it. Services without handlers answer UNIMPLEMENTED to any
/// body.
pub(super) fn body(rpc: &Rpc, tenant: &Named) -> (Vec<u8>, Expected) {
    if rpc.service == QUOTA_SERVICE {
        return quota_body(rpc, tenant);
    }
    if rpc.service == CONFIG_SERVICE {
        return config_body(rpc, tenant);
    }
    if rpc.service == USAGE_SERVICE {
        return usage_body(rpc, tenant);
    }
    if rpc.service == RATE_LIMIT_SERVICE {
        return rate_limit_body(rpc, tenant);
    }
    if rpc.service == EVENT_SERVICE {
        return event_body(rpc, tenant);
    }
    if rpc.service == WEBHOOK_SERVICE {
        return webhook_body(rpc, tenant);
    }
    // Envoy's Check answers OK with its verdict on the HTTP request inside
    // (here a denial: the empty request carries no credential).
    if rpc.service == tenantd::access::methods::ENVOY_AUTHORIZATION {
        return (Vec::new(), Expected::OK);
    }
    if rpc.service != TENANT_SERVICE {
        return (Vec::new(), Expected::UNIMPLEMENTED);
    }
    let name = format!("tenants/{}", tenant.id);
    let domain = format!("{name}/domains/{}", tenant.host);
    match rpc.method.as_str() {
        "CreateTenant" => ok(pb::CreateTenantRequest {
            tenant: Some(fixtures::tenant(&fresh_slug())),
            ..Default::default()
        }),
        "GetTenant" => ok(fixtures::name_request(&name)),
        "ListTenants" => ok(pb::ListTenantsRequest::default()),
        "UpdateTenant" => ok(pb::UpdateTenantRequest {
            tenant: Some(pb::Tenant {
                name,
                display_name: "Renamed".into(),
                ..Default::default()
            }),
            update_mask: fixtures::mask(&["display_name"]),
        }),
        "DeleteTenant" => ok(pb::DeleteTenantRequest {
            name,
            ..Default::default()
        }),
        // Tenant A is live.
        "UndeleteTenant" => refused(
            pb::UndeleteTenantRequest {
                name,
                ..Default::default()
            },
            Code::AlreadyExists,
            "TENANT_NOT_DELETED",
        ),
        "SuspendTenant" => ok(pb::SuspendTenantRequest {
            name,
            reason: "isolation matrix".into(),
            ..Default::default()
        }),
        "ActivateTenant" => ok(pb::ActivateTenantRequest {
            name,
            ..Default::default()
        }),
        "CreateDomain" => ok(pb::CreateDomainRequest {
            parent: name,
            domain: Some(pb::Domain {
                hostname: fresh_host("new"),
                ..Default::default()
            }),
        }),
        "ListDomains" => ok(pb::ListDomainsRequest {
            parent: name,
            ..Default::default()
        }),
        "DeleteDomain" => ok(pb::DeleteDomainRequest { name: domain }),
        // The test DNS server publishes no record.
        "VerifyDomain" => refused(
            pb::VerifyDomainRequest { name: domain },
            Code::FailedPrecondition,
            "DOMAIN_NOT_VERIFIED",
        ),
        "CreateApiKey" => ok(key_request(&name, &["tenant:read"], None)),
        "ListApiKeys" => ok(pb::ListApiKeysRequest {
            parent: name,
            ..Default::default()
        }),
        "RevokeApiKey" => ok(pb::RevokeApiKeyRequest {
            name: tenant.key.clone(),
        }),
        "RotateApiKey" => ok(pb::RotateApiKeyRequest {
            name: tenant.key.clone(),
            overlap: Some(prost_types::Duration {
                seconds: 60,
                nanos: 0,
            }),
        }),
        "ListAuditEvents" => ok(pb::ListAuditEventsRequest {
            parent: name,
            ..Default::default()
        }),
        "ResolveTenant" => ok(pb::ResolveTenantRequest {
            target: Some(Target::TenantId(tenant.id.clone())),
        }),
        // Operators only, so only the admin's answer depends on the body;
        // a malformed name keeps it the same on SQLite (where exports are
        // refused) and PostgreSQL. tenant_export*.rs tests the real thing.
        "ExportTenant" => refused(
            pb::ExportTenantRequest {
                name: "tenants/slug:".to_owned(),
            },
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
        ),
        // A stream without an archive.
        "ImportTenant" => refused(
            pb::ImportTenantRequest::default(),
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
        ),
        // Operators only: tenant keys and users are refused by the table.
        "GetTenantHealth" => ok(pb::GetTenantHealthRequest { name }),
        other => panic!("no request body for {TENANT_SERVICE}.{other}"),
    }
}
