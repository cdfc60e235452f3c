//! Envoy's rate limit service answered from tenants' plans: each descriptor
//! of a request names a tenant (`tenant_id` or `tenant_slug` entry, else
//! the tenant of the call's metadata) and a quota (`quota` entry, else
//! [`DEFAULT_QUOTA`]), and is charged its hits against that quota exactly
//! as CheckQuota would charge it.
//!
//! Invariants kept here: every tenant a descriptor names is reached through
//! [`Gate::scope_for`], so a caller gets verdicts only for tenants it may
//! act for; a descriptor over its limit is charged nothing
//! (all-or-nothing per descriptor); descriptors are charged one by one, as
//! Envoy's own rate limit service does, so one over its limit does not undo
//! the charge of another.

use std::time::Duration;

use chrono::Utc;

use crate::access::Gate;
use crate::access::{TenantContext, TenantScope};
use crate::common::ids::{TenantId, TenantRef};
use crate::error::{Error, FieldViolation, Result, Violations};
use crate::quota::limiter::Mode;
use crate::quota::plan::{QuotaPeriod, is_quota_key};
use crate::quota::quotas::{Cost, Operation, QuotaCall, Quotas};

/// The quota a descriptor without a `quota` entry is counted against: the
/// request rate every shipped plan defines.
pub const DEFAULT_QUOTA: &str = "api_requests";
/// The descriptor entry naming a tenant by id.
pub const TENANT_ID_ENTRY: &str = "tenant_id";
/// The descriptor entry naming a tenant by slug.
pub const TENANT_SLUG_ENTRY: &str = "tenant_slug";
/// The descriptor entry naming a quota.
pub const QUOTA_ENTRY: &str = "quota";
/// Most descriptors in one request.
pub const MAX_DESCRIPTORS: usize = 20;
/// Most entries in one descriptor.
pub const MAX_ENTRIES: usize = 32;
/// Longest descriptor entry key, in bytes.
pub const MAX_ENTRY_KEY_BYTES: usize = 256;
/// Longest descriptor entry value (or request domain), in bytes.
pub const MAX_ENTRY_VALUE_BYTES: usize = 4096;

/// One descriptor, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescriptorCheck {
    /// The tenant it names, if any.
    pub tenant: Option<TenantRef>,
    /// The quota it is counted against.
    pub quota: String,
    /// How many hits it adds.
    pub hits: i64,
}

impl DescriptorCheck {
    /// Reads the entries of descriptor `index`: known keys are used, any
    /// other entry (paths, methods, generic keys) is ignored. Problems are
    /// added to `violations`.
    pub fn read(
        index: usize,
        entries: &[(String, String)],
        hits: i64,
        violations: &mut Vec<FieldViolation>,
    ) -> Self {
        let field = |name: &str| format!("descriptors[{index}].{name}");
        let mut tenant = None;
        let mut quota = DEFAULT_QUOTA.to_owned();
        for (key, value) in entries {
            match key.as_str() {
                TENANT_ID_ENTRY => match TenantId::parse(value, &field(TENANT_ID_ENTRY)) {
                    Ok(id) => tenant = Some(TenantRef::Id(id)),
                    Err(_) => {
                        violations.refuse(field(TENANT_ID_ENTRY), "must be a tenant id (a UUID)")
                    }
                },
                TENANT_SLUG_ENTRY => tenant = Some(TenantRef::Slug(value.clone())),
                QUOTA_ENTRY if is_quota_key(value) => quota.clone_from(value),
                QUOTA_ENTRY => {
                    violations.refuse(field(QUOTA_ENTRY), "must be a quota key");
                }
                _ => {}
            }
        }
        Self {
            tenant,
            quota,
            hits,
        }
    }
}

/// The verdict on one descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescriptorVerdict {
    /// The quota counted.
    pub quota: String,
    /// Over the limit: nothing was charged.
    pub over_limit: bool,
    /// The limit per period (for a token bucket its refill rate, which its
    /// burst may exceed for a moment); `None` when unlimited.
    pub limit: Option<i64>,
    /// The quota's period, for RATE and PERIODIC quotas.
    pub period: Option<QuotaPeriod>,
    /// What is left in the current window.
    pub remaining: i64,
    /// Until the window resets (or, over the limit, until the hits fit).
    pub reset_after: Option<Duration>,
}

/// Answers Envoy's questions; cheap to clone.
#[derive(Clone)]
pub struct RateLimits {
    /// The quota checks.
    quotas: Quotas,
    /// Scopes callers to the tenants they may reach.
    gate: Gate,
}

impl RateLimits {
    /// Verdicts from `quotas`, for tenants reached through `gate`.
    pub fn new(quotas: Quotas, gate: Gate) -> Self {
        Self { quotas, gate }
    }

    /// Charges each of `checks` for the caller of `context`, in order.
    pub async fn should_rate_limit(
        &self,
        context: &TenantContext,
        checks: Vec<DescriptorCheck>,
    ) -> Result<Vec<DescriptorVerdict>> {
        let mut verdicts = Vec::with_capacity(checks.len());
        for (index, check) in checks.into_iter().enumerate() {
            let by = match (check.tenant, &context.tenant) {
                (Some(by), _) => by,
                (None, Some(named)) => TenantRef::Id(named.id),
                (None, None) => {
                    return Err(Error::invalid_field(
                        format!("descriptors[{index}]"),
                        "names no tenant: add a tenant_id or tenant_slug entry, or send x-tenant-id",
                    ));
                }
            };
            let scope = self.gate.scope_for(context, &by).await?;
            let call = QuotaCall {
                costs: vec![Cost {
                    quota: check.quota.clone(),
                    amount: check.hits,
                    field: format!("descriptors[{index}].hits_addend"),
                }],
                mode: Mode::AllOrNothing,
                request_id: None,
            };
            let verdict = self.verdict(&scope, check.quota, call).await?;
            verdicts.push(verdict);
        }
        Ok(verdicts)
    }

    /// The verdict of one descriptor's `call` of `quota`: within the limit,
    /// or over it, with the limit and period that refused it.
    async fn verdict(
        &self,
        scope: &TenantScope,
        quota: String,
        call: QuotaCall,
    ) -> Result<DescriptorVerdict> {
        match self.quotas.apply(scope, Operation::Check, call).await {
            Ok(outcomes) => {
                let outcome = outcomes
                    .into_iter()
                    .next()
                    .ok_or_else(|| Error::internal("a quota check answered no outcome"))?;
                let reset_after = outcome
                    .reset_time()
                    .map(|reset| (reset - Utc::now()).to_std().unwrap_or(Duration::ZERO));
                Ok(DescriptorVerdict {
                    quota,
                    over_limit: false,
                    limit: outcome.limit.limit,
                    period: outcome.limit.definition.period,
                    remaining: outcome.limit.remaining(outcome.outcome.used),
                    reset_after,
                })
            }
            Err(Error::QuotaExceeded { retry_after, .. }) => {
                let (_, limits) = self.quotas.limits(scope).await?;
                let refused = limits.iter().find(|limit| limit.definition.key == quota);
                Ok(DescriptorVerdict {
                    quota,
                    over_limit: true,
                    limit: refused.and_then(|limit| limit.limit),
                    period: refused.and_then(|limit| limit.definition.period),
                    remaining: 0,
                    reset_after: retry_after,
                })
            }
            Err(other) => Err(other),
        }
    }
}
