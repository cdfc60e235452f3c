//! One quota as it applies to a tenant: the plan's definition with the
//! tenant's override, if any.

use crate::quota::limiter::Counter;
use crate::quota::limiter::bounds::{MAX_AMOUNT, MAX_USAGE};
use crate::quota::plan::{QuotaDefinition, QuotaKind, QuotaPeriod, RateAlgorithm};
use chrono::{DateTime, Utc};

/// A tenant's limit for one quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// The definition in the plan.
    pub definition: QuotaDefinition,
    /// The limit; `None` is unlimited.
    pub limit: Option<i64>,
    /// Whether an override sets it.
    pub from_override: bool,
    /// When that override expires.
    pub override_expire_time: Option<DateTime<Utc>>,
}

impl Limit {
    /// The most usage may reach: the limit (the burst for a token bucket)
    /// plus the grace; `None` when unlimited. Within the counters' bounds.
    pub fn ceiling(&self) -> Option<i64> {
        let capacity = self.capacity()?;
        let grace = capacity.saturating_mul(i64::from(self.definition.grace_percent)) / 100;
        Some(capacity.saturating_add(grace).clamp(0, MAX_USAGE))
    }

    /// The limit usage is compared with: the burst for a token bucket.
    /// Limits stored before [`MAX_AMOUNT`](crate::quota::limiter::bounds::MAX_AMOUNT) bounded them count as that.
    pub fn capacity(&self) -> Option<i64> {
        let limit = self.limit?;
        let capacity = if self.token_bucket() {
            self.definition.burst_for(limit)
        } else {
            limit
        };
        Some(capacity.clamp(0, MAX_AMOUNT))
    }

    fn token_bucket(&self) -> bool {
        self.definition.kind == QuotaKind::Rate
            && self.definition.rate_algorithm() == RateAlgorithm::TokenBucket
            && self.limit.is_some()
    }

    /// The counter at `now`. Unlimited RATE quotas are counted in a
    /// sliding window: a bucket without a rate never drains.
    pub fn counter(&self, now: DateTime<Utc>) -> Counter {
        let period = self.definition.period.unwrap_or(QuotaPeriod::Second);
        match (self.definition.kind, period.rate_millis()) {
            (QuotaKind::Rate, Some(period_ms)) if self.token_bucket() => Counter::TokenBucket {
                limit: self.limit.unwrap_or(0).clamp(0, MAX_AMOUNT),
                period_ms,
            },
            (QuotaKind::Rate, Some(period_ms)) => Counter::SlidingWindow { period_ms },
            (QuotaKind::Allocation, _) | (QuotaKind::Rate, None) => Counter::Allocation,
            (QuotaKind::Periodic, _) => {
                let (period_id, end) = period
                    .calendar_period(now)
                    .unwrap_or_else(|| ("d0".to_owned(), now));
                Counter::Periodic {
                    period_id,
                    reset_ms: end.timestamp_millis(),
                }
            }
        }
    }

    /// What can still be charged: capacity minus usage, never below 0;
    /// `i64::MAX` when unlimited.
    pub fn remaining(&self, used: i64) -> i64 {
        self.capacity()
            .map_or(i64::MAX, |capacity| capacity.saturating_sub(used).max(0))
    }

    pub(crate) fn describe(&self, used: i64) -> String {
        let key = &self.definition.key;
        let limit = self.capacity().unwrap_or(0);
        match self.definition.period {
            Some(period) => format!("{key}: {limit} per {}, {used} used", period.as_str()),
            None => format!("{key}: {limit} held at most, {used} held"),
        }
    }
}
