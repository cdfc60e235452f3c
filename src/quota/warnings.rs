//! Warnings on quota results that still allowed the call: soft thresholds
//! reached, grace in use above the limit, and shadow-mode quotas that would
//! have refused. Each says whether this call crossed its line, so callers
//! can notify once. The thresholds a PERIODIC quota reached are also
//! announced once per period ([`crate::quota::crossings`]).

use chrono::{DateTime, Utc};

use crate::common::ids::TenantId;
use crate::quota::crossings::ThresholdCrossing;
use crate::quota::limiter::Counter;
use crate::quota::plan::QuotaKind;
use crate::quota::quotas::QuotaOutcome;

/// What a warning is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarningKind {
    /// Usage reached a soft threshold.
    Threshold,
    /// Usage is above the limit, within the grace.
    Grace,
    /// A shadow-mode quota would have refused the cost.
    ShadowExceeded,
}

/// A warning about a quota that still allowed the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaWarning {
    /// What it is about.
    pub kind: WarningKind,
    /// The highest threshold reached, in percent (THRESHOLD only).
    pub threshold_percent: i32,
    /// This call crossed it, so callers can notify once.
    pub newly_crossed: bool,
    /// For people.
    pub message: String,
}

impl QuotaOutcome {
    /// The soft thresholds reached and the grace in use after this call.
    pub fn warnings(&self) -> Vec<QuotaWarning> {
        let Some(capacity) = self.limit.capacity().filter(|capacity| *capacity > 0) else {
            return Vec::new();
        };
        let key = &self.limit.definition.key;
        let after = self.outcome.used;
        let before = if self.charged {
            after.saturating_sub(self.outcome.granted)
        } else {
            after
        };
        let reached = |usage: i64, percent: i32| reached(usage, capacity, percent);
        let mut warnings = Vec::new();
        let highest = self
            .limit
            .definition
            .warning_threshold_percents
            .iter()
            .rev()
            .find(|percent| reached(after, **percent));
        if let Some(&percent) = highest {
            warnings.push(QuotaWarning {
                kind: WarningKind::Threshold,
                threshold_percent: percent,
                newly_crossed: !reached(before, percent),
                message: format!("{key}: {after} of {capacity} used, {percent} % reached"),
            });
        }
        // Beyond its ceiling a shadow quota is not "within the grace".
        let shadow = self.shadow_exceeded();
        let beyond = shadow.is_some();
        warnings.extend(shadow);
        if after > capacity && !beyond {
            warnings.push(QuotaWarning {
                kind: WarningKind::Grace,
                threshold_percent: 0,
                newly_crossed: before <= capacity,
                message: format!(
                    "{key}: {after} used, over the limit {capacity}, within the grace"
                ),
            });
        }
        warnings
    }

    /// The soft thresholds usage has reached after this call, ascending
    /// (the definition keeps them ascending); none when unlimited.
    pub fn thresholds_reached(&self) -> Vec<i32> {
        let Some(capacity) = self.limit.capacity().filter(|capacity| *capacity > 0) else {
            return Vec::new();
        };
        let used = self.outcome.used;
        self.limit
            .definition
            .warning_threshold_percents
            .iter()
            .copied()
            .filter(|percent| reached(used, capacity, *percent))
            .collect()
    }

    /// The thresholds this outcome of a check or an allocation shows
    /// reached, to be announced: a PERIODIC quota's, in its period at `now`.
    pub fn threshold_crossings(
        &self,
        tenant_id: TenantId,
        now: DateTime<Utc>,
    ) -> Vec<ThresholdCrossing> {
        let limit = &self.limit;
        if self.released || limit.definition.kind != QuotaKind::Periodic {
            return Vec::new();
        }
        let reached = self.thresholds_reached();
        let (Some(capacity), false) = (limit.capacity(), reached.is_empty()) else {
            return Vec::new();
        };
        let Counter::Periodic { period_id, .. } = limit.counter(now) else {
            return Vec::new();
        };
        reached
            .into_iter()
            .map(|threshold_percent| ThresholdCrossing {
                tenant_id,
                quota: limit.definition.key.clone(),
                period: period_id.clone(),
                threshold_percent,
                used: self.outcome.used,
                limit: capacity,
            })
            .collect()
    }

    /// For a shadow-mode quota, the warning that it would have refused this
    /// cost: usage after a charge, or usage plus the cost of a check, above
    /// its ceiling. Releases never would.
    fn shadow_exceeded(&self) -> Option<QuotaWarning> {
        let ceiling = self
            .limit
            .ceiling()
            .filter(|_| self.limit.definition.shadow && !self.released && self.cost > 0)?;
        let after = if self.charged {
            self.outcome.used
        } else {
            self.outcome.used.saturating_add(self.cost)
        };
        (after > ceiling).then(|| QuotaWarning {
            kind: WarningKind::ShadowExceeded,
            threshold_percent: 0,
            newly_crossed: true,
            message: format!(
                "{}: {after} over the ceiling {ceiling}; in shadow mode, so allowed",
                self.limit.definition.key
            ),
        })
    }
}

/// Whether `usage` has reached `percent` % of `capacity`.
fn reached(usage: i64, capacity: i64, percent: i32) -> bool {
    usage.saturating_mul(100) >= capacity.saturating_mul(i64::from(percent))
}
