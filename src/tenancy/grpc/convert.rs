//! Conversions of TenantService's messages: tenants, domains, audit events
//! and resolution answers.

use crate::common::ids::{TenantId, request_id};
use crate::common::paging::page_size;
use crate::common::validate;
use crate::error::{Error, FieldViolation, Result, Violations};
use crate::pb;
use crate::rpc::convert::{into_result, json_object, required, timestamp};
use crate::tenancy::audit::AuditEvent;
use crate::tenancy::custom_domain::{CustomDomain, DomainState};
use crate::tenancy::isolation::IsolationModel;
use crate::tenancy::onboarding::Onboarding;
use crate::tenancy::tenant::{DEFAULT_PLAN, NewTenant, SourceRanges, Tenant, TenantState};
use crate::tenancy::tenants::{CreateTenant, ListTenants};
use std::collections::BTreeMap;

pub(crate) fn tenant_state(state: TenantState) -> pb::TenantState {
    match state {
        TenantState::Provisioning => pb::TenantState::Provisioning,
        TenantState::Active => pb::TenantState::Active,
        TenantState::Suspended => pb::TenantState::Suspended,
        TenantState::Deleted => pb::TenantState::Deleted,
        TenantState::Failed => pb::TenantState::Failed,
    }
}

/// The wire spelling of an isolation model.
pub(crate) fn isolation_model(model: IsolationModel) -> pb::IsolationModel {
    match model {
        IsolationModel::Pool => pb::IsolationModel::Pool,
        IsolationModel::Schema => pb::IsolationModel::Schema,
    }
}

/// The isolation a creator asked for: `None` for UNSPECIFIED (the plan's
/// default), a violation for a number no model has.
pub(crate) fn requested_isolation(
    value: i32,
    field: &str,
    violations: &mut Vec<FieldViolation>,
) -> Option<IsolationModel> {
    match pb::IsolationModel::try_from(value) {
        Ok(pb::IsolationModel::Unspecified) => None,
        Ok(pb::IsolationModel::Pool) => Some(IsolationModel::Pool),
        Ok(pb::IsolationModel::Schema) => Some(IsolationModel::Schema),
        Err(_) => {
            violations.refuse(
                field,
                format!("{value} is not an isolation model; use POOL or SCHEMA"),
            );
            None
        }
    }
}

impl From<&Tenant> for pb::Tenant {
    fn from(tenant: &Tenant) -> Self {
        Self {
            name: tenant.id.resource_name(),
            id: tenant.id.to_string(),
            slug: tenant.slug.clone(),
            display_name: tenant.display_name.clone(),
            state: tenant_state(tenant.state).into(),
            state_reason: tenant.state_reason.clone(),
            plan: tenant.plan.clone(),
            labels: tenant.labels.clone().into_iter().collect(),
            create_time: Some(timestamp(tenant.create_time)),
            update_time: Some(timestamp(tenant.update_time)),
            delete_time: tenant.delete_time.map(timestamp),
            purge_time: tenant.purge_time.map(timestamp),
            etag: tenant.etag(),
            isolation: isolation_model(tenant.isolation).into(),
            template_version: tenant.template_version,
            external_id: tenant.external_id.clone().unwrap_or_default(),
            allowed_source_ranges: tenant.allowed_source_ranges.to_strings(),
            provisioning: tenant
                .provisioning
                .as_ref()
                .map(|progress| pb::ProvisioningProgress {
                    step: progress.step,
                    total_steps: progress.total_steps,
                    step_name: progress.step_name.clone(),
                }),
        }
    }
}

pub(crate) fn sorted_labels(
    labels: &std::collections::HashMap<String, String>,
) -> BTreeMap<String, String> {
    labels
        .iter()
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

/// Validates a CreateTenant request's tenant and chosen id.
pub fn new_tenant(request: &pb::CreateTenantRequest) -> Result<NewTenant> {
    let tenant = required(request.tenant.as_ref(), "tenant")?;
    let mut violations = Vec::new();
    validate::slug(&tenant.slug, "tenant.slug", &mut violations);
    validate::display_name(&tenant.display_name, "tenant.display_name", &mut violations);
    let plan = if tenant.plan.is_empty() {
        DEFAULT_PLAN.to_owned()
    } else {
        tenant.plan.clone()
    };
    validate::plan(&plan, "tenant.plan", &mut violations);
    let labels = sorted_labels(&tenant.labels);
    validate::labels(&labels, "tenant.labels", &mut violations);
    let isolation = requested_isolation(tenant.isolation, "tenant.isolation", &mut violations);
    let external_id =
        validate::external_id(&tenant.external_id, "tenant.external_id", &mut violations);
    let allowed_source_ranges = SourceRanges::parse(
        &tenant.allowed_source_ranges,
        "tenant.allowed_source_ranges",
        &mut violations,
    );
    let id = if request.tenant_id.is_empty() {
        None
    } else {
        match TenantId::parse(&request.tenant_id, "tenant_id") {
            Ok(id) => Some(id),
            Err(Error::InvalidArgument(found)) => {
                violations.extend(found);
                None
            }
            Err(other) => return Err(other),
        }
    };
    let display_name = if tenant.display_name.is_empty() {
        tenant.slug.clone()
    } else {
        tenant.display_name.clone()
    };
    into_result(
        NewTenant {
            id,
            slug: tenant.slug.clone(),
            display_name,
            plan,
            labels,
            isolation,
            external_id,
            allowed_source_ranges,
        },
        violations,
    )
}

impl From<&CustomDomain> for pb::Domain {
    fn from(domain: &CustomDomain) -> Self {
        Self {
            name: domain.resource_name(),
            hostname: domain.hostname.clone(),
            state: match domain.state {
                DomainState::Pending => pb::DomainState::Pending,
                DomainState::Verified => pb::DomainState::Verified,
            }
            .into(),
            verification_record_name: domain.challenge_record_name(),
            verification_record_value: domain.challenge_record_value(),
            create_time: Some(timestamp(domain.create_time)),
            verify_time: domain.verify_time.map(timestamp),
            expire_time: domain.expire_time.map(timestamp),
        }
    }
}

impl From<AuditEvent> for pb::AuditEvent {
    fn from(event: AuditEvent) -> Self {
        Self {
            name: event.resource_name(),
            create_time: Some(timestamp(event.create_time)),
            actor: event.actor,
            action: event.action,
            resource: event.resource,
            request_id: event.request_id,
            before: event.before.and_then(json_object),
            after: event.after.and_then(json_object),
        }
    }
}

/// Validates a CreateTenant request: its tenant, chosen id, onboarding
/// input and request id, every refused field named at once.
pub fn create_tenant(request: &pb::CreateTenantRequest) -> Result<CreateTenant> {
    let mut violations = Vec::new();
    let onboarding = Onboarding::parse(
        &request.initial_admin_email,
        "initial_admin_email",
        &request.onboarding_attributes,
        "onboarding_attributes",
        &mut violations,
    );
    let tenant = match new_tenant(request) {
        Ok(tenant) => Some(tenant),
        Err(Error::InvalidArgument(found)) => {
            violations.extend(found);
            None
        }
        Err(other) => return Err(other),
    };
    let request_id = match request_id(&request.request_id) {
        Ok(request_id) => request_id,
        Err(Error::InvalidArgument(found)) => {
            violations.extend(found);
            None
        }
        Err(other) => return Err(other),
    };
    match tenant {
        Some(tenant) if violations.is_empty() => Ok(CreateTenant {
            tenant,
            request_id,
            onboarding,
        }),
        _ => Err(Error::InvalidArgument(violations)),
    }
}

/// Validates a ListTenants request's page size.
pub fn list_tenants(request: pb::ListTenantsRequest) -> Result<ListTenants> {
    Ok(ListTenants {
        page_size: page_size(request.page_size, "page_size")?,
        page_token: request.page_token,
        filter: request.filter,
        show_deleted: request.show_deleted,
    })
}

/// A page of ListTenants.
pub fn tenants_page(tenants: &[Tenant], next_page_token: String) -> pb::ListTenantsResponse {
    pb::ListTenantsResponse {
        tenants: tenants.iter().map(pb::Tenant::from).collect(),
        next_page_token,
    }
}

/// Validates the `reason` of a state change, answered trimmed.
pub fn reason(reason: &str, required: bool) -> Result<&str> {
    let mut violations = Vec::new();
    validate::reason(reason, "reason", required, &mut violations);
    into_result(reason.trim(), violations)
}

/// Validates CreateDomain's `domain` into the hostname to claim.
pub fn new_domain(domain: Option<&pb::Domain>) -> Result<String> {
    let domain = required(domain, "domain")?;
    validate::hostname(&domain.hostname, "domain.hostname")
        .map_err(|violation| Error::InvalidArgument(vec![violation]))
}

/// A page of ListDomains.
pub fn domains_page(domains: &[CustomDomain], next_page_token: String) -> pb::ListDomainsResponse {
    pb::ListDomainsResponse {
        domains: domains.iter().map(pb::Domain::from).collect(),
        next_page_token,
    }
}

/// A page of ListAuditEvents.
pub fn audit_page(events: Vec<AuditEvent>, next_page_token: String) -> pb::ListAuditEventsResponse {
    pb::ListAuditEventsResponse {
        audit_events: events.into_iter().map(pb::AuditEvent::from).collect(),
        next_page_token,
    }
}
