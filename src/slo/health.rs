//! A tenant's service levels over the last hour and the last day: every
//! replica's stored minutes, with this replica's own minutes taken from
//! memory instead (they are at least as new as what it stored), measured
//! against the objectives of the tenant's plan.

use async_trait::async_trait;

use crate::common::ids::TenantId;
use crate::error::{Error, Result};
use crate::pb;
use crate::quota::{Plans, ServiceObjectives};
use crate::slo::attainment::{Attainment, attainment};
use crate::slo::call_log::{CallLog, current_minute};
use crate::slo::counts::CallCounts;
use crate::slo::store::StoredMinute;
use crate::store::Store;
use crate::store::scope::Scope;
use crate::tenancy::{Tenant, TenantHealthSource};

/// The windows measured, in minutes: the last hour, the last day.
pub const WINDOW_MINUTES: [i64; 2] = [60, 24 * 60];

/// How a tenant's calls went over one window.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowHealth {
    /// Its length in minutes.
    pub minutes: i64,
    /// Its first minute, since the Unix epoch; its last is the current one.
    pub start_minute: i64,
    /// Every replica's counts in it.
    pub counts: CallCounts,
    /// Against the availability objective, when the plan has objectives.
    pub availability: Option<Attainment>,
    /// Against the latency objective, when the plan has objectives.
    pub latency: Option<Attainment>,
}

impl WindowHealth {
    /// The window of `minutes` ending with minute `now`, holding `counts`.
    fn measure(
        minutes: i64,
        now: i64,
        counts: CallCounts,
        objectives: Option<&ServiceObjectives>,
    ) -> Self {
        let availability = objectives.map(|objectives| {
            let total = counts.requests;
            attainment(objectives.availability, counts.successes(), total)
        });
        let latency = objectives.map(|objectives| {
            let fast = counts.at_or_under(objectives.threshold_bucket());
            attainment(objectives.latency_target, fast, counts.timed())
        });
        Self {
            minutes,
            start_minute: window_start(minutes, now),
            counts,
            availability,
            latency,
        }
    }
}

/// How a tenant's calls went, window by window.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantHealth {
    /// The tenant.
    pub tenant_id: TenantId,
    /// Its plan's objectives, if it declares some.
    pub objectives: Option<ServiceObjectives>,
    /// The windows of [`WINDOW_MINUTES`], in that order.
    pub windows: Vec<WindowHealth>,
}

/// The first minute of the window of `minutes` ending with `now`.
fn window_start(minutes: i64, now: i64) -> i64 {
    now.saturating_sub(minutes.saturating_sub(1))
}

/// The counts of each window of [`WINDOW_MINUTES`] ending with minute
/// `now`: the stored `rows` of every replica, except `own_replica`'s rows
/// of the minutes `pending` holds, whose counts `pending` has newer.
pub fn window_counts(
    now: i64,
    rows: &[StoredMinute],
    pending: &[(i64, CallCounts)],
    own_replica: &str,
) -> [CallCounts; 2] {
    let in_memory = |minute: i64| pending.iter().any(|(held, _)| *held == minute);
    let stored = rows
        .iter()
        .filter(|row| row.replica != own_replica || !in_memory(row.minute))
        .map(|row| (row.minute, &row.counts));
    let held = pending.iter().map(|(minute, counts)| (*minute, counts));
    let mut windows = [CallCounts::default(); 2];
    for (minute, counts) in stored.chain(held) {
        for (window, length) in windows.iter_mut().zip(WINDOW_MINUTES) {
            if minute >= window_start(length, now) {
                window.merge(counts);
            }
        }
    }
    windows
}

/// Per-tenant service levels as this process sees them; cheap to clone.
#[derive(Debug, Clone)]
pub struct ServiceLevels {
    /// Where every replica's minutes are stored.
    store: Store,
    /// Where the objectives are.
    plans: Plans,
    /// This replica's unwritten minutes; `None` for a process that serves
    /// no calls (an operator command), which reads stored minutes only.
    log: Option<CallLog>,
}

impl ServiceLevels {
    /// For a serving replica, whose own calls `log` counts.
    pub fn serving(store: Store, plans: Plans, log: CallLog) -> Self {
        Self {
            store,
            plans,
            log: Some(log),
        }
    }

    /// From the stored minutes alone.
    pub fn stored(store: Store, plans: Plans) -> Self {
        Self {
            store,
            plans,
            log: None,
        }
    }

    /// How `tenant_id`'s calls went, measured against the objectives of
    /// plan `plan`.
    pub async fn health(&self, tenant_id: TenantId, plan: &str) -> Result<TenantHealth> {
        let now = current_minute();
        let longest = WINDOW_MINUTES[WINDOW_MINUTES.len() - 1];
        let rows = self
            .store
            .call_minutes(tenant_id, window_start(longest, now))
            .await?;
        let (pending, replica) = match &self.log {
            Some(log) => (log.pending(tenant_id), log.replica()),
            None => (Vec::new(), ""),
        };
        let objectives = self.objectives(tenant_id, plan).await?;
        let counts = window_counts(now, &rows, &pending, replica);
        let windows = WINDOW_MINUTES
            .into_iter()
            .zip(counts)
            .map(|(minutes, counts)| {
                WindowHealth::measure(minutes, now, counts, objectives.as_ref())
            })
            .collect();
        Ok(TenantHealth {
            tenant_id,
            objectives,
            windows,
        })
    }

    /// The objectives of `plan`; none when it has none or is gone.
    async fn objectives(
        &self,
        tenant_id: TenantId,
        plan: &str,
    ) -> Result<Option<ServiceObjectives>> {
        match self.plans.get(Scope::Tenant(tenant_id), plan).await {
            Ok(plan) => Ok(plan.objectives),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Up to `limit` tenants with stored calls in the last day, those with
    /// the most failures first.
    pub async fn most_failing(&self, limit: u64) -> Result<Vec<TenantId>> {
        let longest = WINDOW_MINUTES[WINDOW_MINUTES.len() - 1];
        let since = window_start(longest, current_minute());
        self.store.most_failing_tenants(since, limit).await
    }
}

#[async_trait]
impl TenantHealthSource for ServiceLevels {
    async fn tenant_health(&self, tenant: &Tenant) -> Result<pb::TenantHealth> {
        let health = self.health(tenant.id, &tenant.plan).await?;
        Ok(pb::TenantHealth::from(&health))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const NOW: i64 = 29_000_000;

    fn calls(requests: u64, failures: u64) -> CallCounts {
        let mut counts = CallCounts::default();
        for index in 0..requests {
            counts.add_call(index < failures, Duration::from_millis(3));
        }
        counts
    }

    fn row(minute: i64, replica: &str, counts: CallCounts) -> StoredMinute {
        StoredMinute {
            minute,
            replica: replica.to_owned(),
            counts,
        }
    }

    #[test]
    fn windows_sum_every_replica_and_prefer_memory_for_its_own_minutes() {
        let rows = [
            row(NOW, "other", calls(5, 1)),
            // This replica's stored counts of the current minute are older
            // than the ones in memory.
            row(NOW, "own", calls(2, 0)),
            row(NOW - 30, "own", calls(3, 0)),
            row(NOW - 120, "other", calls(10, 10)),
            row(NOW - 1440, "other", calls(100, 0)),
        ];
        let pending = [(NOW, calls(4, 2))];
        let [hour, day] = window_counts(NOW, &rows, &pending, "own");
        assert_eq!((hour.requests, hour.failures), (5 + 3 + 4, 1 + 2));
        assert_eq!((day.requests, day.failures), (5 + 3 + 4 + 10, 1 + 2 + 10));
    }

    #[test]
    fn an_hour_is_sixty_minutes_ending_with_the_current_one() {
        let rows = [
            row(NOW - 59, "other", calls(1, 0)),
            row(NOW - 60, "other", calls(1, 0)),
        ];
        let [hour, day] = window_counts(NOW, &rows, &[], "own");
        assert_eq!((hour.requests, day.requests), (1, 2));
        assert_eq!(window_start(60, NOW), NOW - 59);
    }

    #[test]
    fn windows_measure_against_the_objectives() {
        let objectives = ServiceObjectives {
            availability: 0.99,
            latency_threshold_micros: 5_000,
            latency_target: 0.9,
        };
        let mut counts = calls(10, 1);
        counts.add_call(false, Duration::from_millis(300));
        let window = WindowHealth::measure(60, NOW, counts, Some(&objectives));
        let availability = window.availability.expect("measured");
        assert!(!availability.met);
        assert!((availability.achieved - 10.0 / 11.0).abs() < 1e-9);
        let latency = window.latency.expect("measured");
        assert!(latency.met, "10 of 11 within 5ms: {latency:?}");
        let none = WindowHealth::measure(60, NOW, counts, None);
        assert!(none.availability.is_none() && none.latency.is_none());
    }
}
