//! A plan's service level objectives: how available and how fast its
//! tenants' calls should be. Per-tenant service levels (`slo`) measure
//! every tenant against its plan's objectives.
//!
//! Invariants kept here: a [`ServiceObjectives`] that passed validation has
//! an availability and a latency target in (0, 1), at most
//! [`MAX_OBJECTIVE`] (never NaN), and a latency threshold that is one of
//! the latency bucket bounds ([`crate::common::latency`]), so calls at or
//! under it are an exact count. Stored as JSON in the `plans` table in
//! exactly the serde form of this module.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::common::latency::{LATENCY_BOUNDS_MICROS, bound_index, bounds_text};
use crate::error::{FieldViolation, Violations};

/// The strictest objective a plan may declare: five nines. Beyond it a
/// day's budget is under one failed call in 100 000, which no replica can
/// measure honestly.
pub const MAX_OBJECTIVE: f64 = 0.99999;

/// A plan's availability and latency objectives.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ServiceObjectives {
    /// The fraction of calls that must not fail on the server's side
    /// ([`crate::common::calls::is_server_failure`]), e.g. `0.999`.
    pub availability: f64,
    /// The latency a call must answer within to count as fast, in
    /// microseconds: one of the latency bucket bounds.
    pub latency_threshold_micros: u64,
    /// The fraction of calls that must answer within the threshold.
    pub latency_target: f64,
}

// Validated objectives are finite numbers (and JSON holds no NaN), so
// equality is reflexive.
impl Eq for ServiceObjectives {}

impl ServiceObjectives {
    /// The latency threshold.
    pub fn latency_threshold(&self) -> Duration {
        Duration::from_micros(self.latency_threshold_micros)
    }

    /// The index of the latency bucket bound the threshold is: calls in
    /// this bucket and the ones below it answered within the threshold.
    pub fn threshold_bucket(&self) -> usize {
        // Validated to be a bound; a stored value that is not one (a row
        // written by hand) counts as the last bound, the laxest reading.
        bound_index(self.latency_threshold()).unwrap_or(LATENCY_BOUNDS_MICROS.len() - 1)
    }
}

/// Validates an objective fraction (`field` is e.g.
/// `plan.objectives.availability`): above 0, below 1, at most
/// [`MAX_OBJECTIVE`].
pub fn validate_target(value: f64, field: &str, violations: &mut Vec<FieldViolation>) {
    // Written so that NaN fails too.
    if !(value > 0.0 && value <= MAX_OBJECTIVE) {
        violations.refuse(
            field,
            format!("must be above 0 and below 1, at most {MAX_OBJECTIVE}, e.g. 0.999"),
        );
    }
}

/// Validates a latency threshold (`field` is e.g.
/// `plan.objectives.latency_threshold`): one of the bucket bounds. Answers
/// it in microseconds when it is one.
pub fn validate_threshold(
    threshold: Duration,
    field: &str,
    violations: &mut Vec<FieldViolation>,
) -> Option<u64> {
    match bound_index(threshold) {
        Some(index) => Some(LATENCY_BOUNDS_MICROS[index]),
        None => {
            violations.refuse(field, threshold_description());
            None
        }
    }
}

/// What a latency threshold must be, naming the allowed values.
pub fn threshold_description() -> String {
    format!("must be one of {}", bounds_text())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(value: f64) -> bool {
        let mut violations = Vec::new();
        validate_target(value, "target", &mut violations);
        !violations.is_empty()
    }

    #[test]
    fn targets_are_fractions_up_to_five_nines() {
        assert!(!refused(0.5));
        assert!(!refused(0.99999));
        for value in [0.0, 1.0, 0.999991, -0.5, f64::NAN, f64::INFINITY] {
            assert!(refused(value), "{value} was accepted");
        }
    }

    #[test]
    fn a_threshold_must_be_a_bound() {
        let mut violations = Vec::new();
        let at = validate_threshold(Duration::from_millis(250), "t", &mut violations);
        assert_eq!(at, Some(250_000));
        assert!(violations.is_empty());
        let off = validate_threshold(Duration::from_millis(300), "t", &mut violations);
        assert_eq!(off, None);
        assert_eq!(violations.len(), 1);
        assert!(
            violations[0].description.contains("2.5ms"),
            "{violations:?}"
        );
    }
}
