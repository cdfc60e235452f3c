//! A tenant's service levels as GetTenantHealth answers them.

use std::time::Duration;

use crate::pb;
use crate::rpc::convert::timestamp;
use crate::slo::attainment::Attainment;
use crate::slo::health::{TenantHealth, WindowHealth};

fn duration(value: Duration) -> Option<prost_types::Duration> {
    prost_types::Duration::try_from(value).ok()
}

/// Counts as the proto's `int64`: beyond it, the largest.
fn count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl From<&Attainment> for pb::ObjectiveAttainment {
    fn from(attainment: &Attainment) -> Self {
        Self {
            target: attainment.target,
            achieved: attainment.achieved,
            met: attainment.met,
            error_budget_remaining: attainment.budget_remaining,
        }
    }
}

impl From<&WindowHealth> for pb::HealthWindow {
    fn from(window: &WindowHealth) -> Self {
        let length_seconds = u64::try_from(window.minutes.saturating_mul(60)).unwrap_or(0);
        let start = chrono::DateTime::from_timestamp(window.start_minute.saturating_mul(60), 0);
        Self {
            length: duration(Duration::from_secs(length_seconds)),
            start_time: start.map(timestamp),
            requests: count(window.counts.requests),
            failures: count(window.counts.failures),
            error_ratio: window.counts.error_ratio(),
            latency_p99: window.counts.p99().and_then(duration),
            availability: window.availability.as_ref().map(Into::into),
            latency: window.latency.as_ref().map(Into::into),
        }
    }
}

impl From<&TenantHealth> for pb::TenantHealth {
    fn from(health: &TenantHealth) -> Self {
        Self {
            name: health.tenant_id.resource_name(),
            objectives: health.objectives.as_ref().map(Into::into),
            windows: health.windows.iter().map(Into::into).collect(),
        }
    }
}
