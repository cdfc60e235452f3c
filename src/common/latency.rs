//! The latency buckets per-tenant service levels count calls in, and the
//! only thresholds a plan's latency objective may name: a threshold that is
//! a bucket bound makes "calls at or under the threshold" an exact count
//! rather than an estimate inside a bucket.
//!
//! The bounds are [`LATENCY_BOUNDS_SECONDS`], the ones every latency
//! histogram tenantd keeps (Prometheus' too, so a plan's threshold is an
//! `le` value there as well), here in whole microseconds for exact integer
//! comparisons.
//!
//! Invariant: [`LATENCY_BOUNDS_MICROS`] is strictly ascending, and
//! [`LATENCY_BUCKETS`] is one more (the overflow bucket, beyond the last
//! bound). Stored histograms are arrays in this order, so the bounds are
//! append-only: changing one would change the meaning of stored rows.

use std::time::Duration;

use crate::common::calls::LATENCY_BOUNDS_SECONDS;

/// The upper bounds of the latency buckets, in microseconds, ascending:
/// 1 ms, 2.5 ms, 5 ms, 10 ms, 25 ms, 50 ms, 100 ms, 250 ms, 500 ms, 1 s,
/// 2.5 s, 5 s, 10 s.
pub const LATENCY_BOUNDS_MICROS: [u64; LATENCY_BOUNDS_SECONDS.len()] = in_micros();

const fn in_micros() -> [u64; LATENCY_BOUNDS_SECONDS.len()] {
    let mut micros = [0; LATENCY_BOUNDS_SECONDS.len()];
    let mut index = 0;
    while index < micros.len() {
        // Rounded, since 0.0025 has no exact binary form.
        micros[index] = (LATENCY_BOUNDS_SECONDS[index] * 1_000_000.0 + 0.5) as u64;
        index += 1;
    }
    micros
}

/// How many buckets a latency histogram has: one per bound, and the
/// overflow bucket for calls slower than the last bound.
pub const LATENCY_BUCKETS: usize = LATENCY_BOUNDS_MICROS.len() + 1;

/// The bucket `latency` falls in: the first whose bound it does not
/// exceed, or the overflow bucket.
pub fn latency_bucket(latency: Duration) -> usize {
    let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
    LATENCY_BOUNDS_MICROS
        .iter()
        .position(|bound| micros <= *bound)
        .unwrap_or(LATENCY_BOUNDS_MICROS.len())
}

/// The index of the bound equal to `threshold`, if it is one.
pub fn bound_index(threshold: Duration) -> Option<usize> {
    let micros = u64::try_from(threshold.as_micros()).ok()?;
    // A threshold finer than a microsecond is no bound.
    if Duration::from_micros(micros) != threshold {
        return None;
    }
    LATENCY_BOUNDS_MICROS
        .iter()
        .position(|bound| *bound == micros)
}

/// The bounds as an operator reads them: `1ms, 2.5ms, …, 10s`.
pub fn bounds_text() -> String {
    LATENCY_BOUNDS_MICROS
        .iter()
        .map(|micros| duration_text(Duration::from_micros(*micros)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A bound as an operator reads it: `2.5ms`, `1s`.
pub fn duration_text(duration: Duration) -> String {
    let micros = duration.as_micros();
    if micros >= 1_000_000 {
        trimmed(micros, 1_000_000, "s")
    } else {
        trimmed(micros, 1_000, "ms")
    }
}

/// `value / unit` with at most three decimals and no trailing zeros.
fn trimmed(value: u128, unit: u128, suffix: &str) -> String {
    let whole = value / unit;
    let thousandths = (value % unit) * 1000 / unit;
    if thousandths == 0 {
        return format!("{whole}{suffix}");
    }
    let decimals = format!("{thousandths:03}");
    format!("{whole}.{}{suffix}", decimals.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bounds_are_the_prometheus_histograms_in_microseconds() {
        assert_eq!(
            LATENCY_BOUNDS_MICROS,
            [
                1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
                2_500_000, 5_000_000, 10_000_000,
            ]
        );
    }

    #[test]
    fn bounds_ascend_strictly() {
        assert!(
            LATENCY_BOUNDS_MICROS
                .windows(2)
                .all(|pair| pair[0] < pair[1])
        );
    }

    #[test]
    fn a_latency_falls_in_the_first_bucket_it_does_not_exceed() {
        assert_eq!(latency_bucket(Duration::ZERO), 0);
        assert_eq!(latency_bucket(Duration::from_millis(1)), 0);
        assert_eq!(latency_bucket(Duration::from_micros(1_001)), 1);
        assert_eq!(latency_bucket(Duration::from_secs(10)), 12);
        assert_eq!(latency_bucket(Duration::from_secs(11)), 13);
        assert_eq!(latency_bucket(Duration::MAX), 13);
    }

    #[test]
    fn only_a_bound_is_a_bound() {
        assert_eq!(bound_index(Duration::from_micros(2_500)), Some(1));
        assert_eq!(bound_index(Duration::from_secs(1)), Some(9));
        assert_eq!(bound_index(Duration::from_millis(3)), None);
        assert_eq!(bound_index(Duration::new(1, 1)), None);
        assert_eq!(bound_index(Duration::MAX), None);
    }

    #[test]
    fn bounds_read_as_an_operator_writes_them() {
        assert_eq!(
            bounds_text(),
            "1ms, 2.5ms, 5ms, 10ms, 25ms, 50ms, 100ms, 250ms, 500ms, 1s, 2.5s, 5s, 10s"
        );
    }
}
