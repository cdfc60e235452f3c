//! Per-tenant bulkheads: each tenant gets a share of this replica, so one
//! tenant flooding calls (long listings, exports, usage reports, quota
//! checks) is refused its excess instead of starving the others.
//!
//! Two budgets per tenant, both checked before the handler runs:
//! - **concurrency**: at most `max_concurrent_calls` of its calls in a
//!   handler at once. Below the database pool's size, this is also what
//!   keeps one tenant from holding every connection: the rest of the pool
//!   stays for the others.
//! - **rate**: a token bucket of `rate_per_second`, holding at most one
//!   second's worth, so a burst is absorbed but a flood is not.
//!
//! Over either, the call is RESOURCE_EXHAUSTED with `RetryInfo` and the
//! reason `TENANT_CONCURRENCY_EXCEEDED` or `TENANT_RATE_EXCEEDED`.
//! Operators are not budgeted: their tooling must work while an incident
//! is handled. Only tenants that resolved have budgets, so the map is as
//! large as the fleet, whatever unknown names callers send.
//!
//! The locks guard a few arithmetic steps that cannot panic, and a
//! poisoned lock is taken over as it is: no tenant's failure can wedge
//! another's admission.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::common::ids::TenantId;
use crate::error::Error;
use crate::settings::BudgetSettings;

/// How long a caller refused for concurrency should wait: about one
/// ordinary call.
const CONCURRENCY_RETRY: Duration = Duration::from_millis(50);

/// One tenant's budgets.
struct TenantBudget {
    /// Permits for calls in handlers.
    calls: Arc<Semaphore>,
    /// The rate bucket.
    bucket: Mutex<Bucket>,
}

/// A token bucket: `tokens` as of `at`.
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// Takes one token, or says how long until one is there.
    fn take(&mut self, rate: f64, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(rate);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        Err(Duration::from_secs_f64(
            ((1.0 - self.tokens) / rate).max(0.001),
        ))
    }
}

/// A call admitted within its tenant's budget; the concurrency slot is
/// given back when this is dropped.
#[derive(Debug)]
pub struct Admitted {
    /// The concurrency slot, when there is a limit.
    _slot: Option<OwnedSemaphorePermit>,
}

/// The counter of calls refused for their tenant's budget.
pub const BULKHEAD_REFUSALS: &str = "tenantd_bulkhead_refusals_total";

/// Every tenant's budgets on this replica.
#[derive(Clone)]
pub struct Bulkheads {
    /// The budget each tenant gets.
    settings: BudgetSettings,
    /// Budgets of the tenants seen so far.
    tenants: Arc<Mutex<HashMap<TenantId, Arc<TenantBudget>>>>,
}

impl Bulkheads {
    /// Budgets of `settings` for every tenant.
    pub fn new(settings: BudgetSettings) -> Self {
        Self {
            settings,
            tenants: Arc::default(),
        }
    }

    fn budget(&self, tenant: TenantId) -> Arc<TenantBudget> {
        let mut tenants = self.tenants.lock().unwrap_or_else(PoisonError::into_inner);
        let calls = self.settings.max_concurrent_calls as usize;
        let rate = f64::from(self.settings.rate_per_second);
        Arc::clone(tenants.entry(tenant).or_insert_with(|| {
            Arc::new(TenantBudget {
                calls: Arc::new(Semaphore::new(calls.min(Semaphore::MAX_PERMITS))),
                bucket: Mutex::new(Bucket {
                    tokens: rate,
                    at: Instant::now(),
                }),
            })
        }))
    }

    /// Admits one call of `tenant`, or refuses it with when to retry.
    pub fn admit(&self, tenant: TenantId) -> Result<Admitted, Error> {
        let admitted = self.admit_within_budget(tenant);
        if admitted.is_err() {
            metrics::counter!(BULKHEAD_REFUSALS).increment(1);
        }
        admitted
    }

    /// As [`Self::admit`], uncounted.
    fn admit_within_budget(&self, tenant: TenantId) -> Result<Admitted, Error> {
        let settings = self.settings;
        if settings.max_concurrent_calls == 0 && settings.rate_per_second == 0 {
            return Ok(Admitted { _slot: None });
        }
        let budget = self.budget(tenant);
        if settings.rate_per_second > 0 {
            let mut bucket = budget.bucket.lock().unwrap_or_else(PoisonError::into_inner);
            if let Err(retry_after) =
                bucket.take(f64::from(settings.rate_per_second), Instant::now())
            {
                return Err(Error::OverBudget {
                    reason: "TENANT_RATE_EXCEEDED",
                    message: format!(
                        "the tenant is over its rate of {} calls per second on this replica; retry later",
                        settings.rate_per_second
                    ),
                    retry_after,
                });
            }
        }
        if settings.max_concurrent_calls == 0 {
            return Ok(Admitted { _slot: None });
        }
        match Arc::clone(&budget.calls).try_acquire_owned() {
            Ok(slot) => Ok(Admitted { _slot: Some(slot) }),
            Err(_) => Err(Error::OverBudget {
                reason: "TENANT_CONCURRENCY_EXCEEDED",
                message: format!(
                    "the tenant has {} calls in progress on this replica, its most; retry later",
                    settings.max_concurrent_calls
                ),
                retry_after: CONCURRENCY_RETRY,
            }),
        }
    }
}

/// Envoy ext_authz's requests spend their tenant's budget too.
impl crate::access::ext_authz::TenantBudgets for Bulkheads {
    fn admit(&self, tenant: TenantId) -> Result<Box<dyn Send>, Error> {
        Bulkheads::admit(self, tenant).map(|admitted| Box::new(admitted) as Box<dyn Send>)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_holds_one_second_and_refills_at_its_rate() {
        let start = Instant::now();
        let mut bucket = Bucket {
            tokens: 2.0,
            at: start,
        };
        assert!(bucket.take(2.0, start).is_ok());
        assert!(bucket.take(2.0, start).is_ok());
        let wait = bucket.take(2.0, start).expect_err("empty");
        assert!(
            wait > Duration::from_millis(400) && wait <= Duration::from_millis(500),
            "{wait:?}"
        );
        assert!(bucket.take(2.0, start + Duration::from_millis(500)).is_ok());
        // A long idle time refills one second's worth, no more.
        let later = start + Duration::from_secs(60);
        assert!(bucket.take(2.0, later).is_ok());
        assert!(bucket.take(2.0, later).is_ok());
        assert!(bucket.take(2.0, later).is_err());
    }

    #[test]
    fn concurrency_is_per_tenant_and_given_back() {
        let bulkheads = Bulkheads::new(BudgetSettings {
            max_concurrent_calls: 1,
            rate_per_second: 0,
        });
        let (a, b) = (
            TenantId::from_uuid(uuid::Uuid::now_v7()),
            TenantId::from_uuid(uuid::Uuid::now_v7()),
        );
        let held = bulkheads.admit(a).expect("a's first call");
        let refused = bulkheads.admit(a).expect_err("a's second call");
        assert_eq!(refused.reason(), "TENANT_CONCURRENCY_EXCEEDED");
        assert!(bulkheads.admit(b).is_ok(), "b has its own budget");
        drop(held);
        assert!(bulkheads.admit(a).is_ok());
    }
}
