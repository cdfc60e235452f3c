//! What is counted of a tenant's calls in a stretch of time: requests,
//! failures, the latency sum and a histogram over the fixed bounds of
//! [`crate::common::latency`]; and what those counts answer (error ratio,
//! p99, calls within a threshold).
//!
//! Invariants kept here: all arithmetic saturates, so no count a tenant's
//! traffic drives can wrap or panic; bucket counts are per bucket, not
//! cumulative, so counts of different minutes and replicas merge by
//! adding.

use std::time::Duration;

use crate::common::latency::{LATENCY_BOUNDS_MICROS, LATENCY_BUCKETS, latency_bucket};

/// Counts of calls: one minute's on one replica, or a window's merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CallCounts {
    /// Calls answered.
    pub requests: u64,
    /// Calls that failed on the server's side.
    pub failures: u64,
    /// The sum of their latencies, in microseconds.
    pub latency_sum_micros: u64,
    /// Calls per latency bucket, in the order of the bounds, the overflow
    /// bucket last.
    pub buckets: [u64; LATENCY_BUCKETS],
}

impl CallCounts {
    /// Counts one call.
    pub fn add_call(&mut self, failed: bool, latency: Duration) {
        self.requests = self.requests.saturating_add(1);
        if failed {
            self.failures = self.failures.saturating_add(1);
        }
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency_sum_micros = self.latency_sum_micros.saturating_add(micros);
        if let Some(bucket) = self.buckets.get_mut(latency_bucket(latency)) {
            *bucket = bucket.saturating_add(1);
        }
    }

    /// Adds `other`'s counts to these.
    pub fn merge(&mut self, other: &CallCounts) {
        self.requests = self.requests.saturating_add(other.requests);
        self.failures = self.failures.saturating_add(other.failures);
        self.latency_sum_micros = self
            .latency_sum_micros
            .saturating_add(other.latency_sum_micros);
        for (mine, theirs) in self.buckets.iter_mut().zip(other.buckets) {
            *mine = mine.saturating_add(theirs);
        }
    }

    /// `failures / requests`, 0 without requests.
    pub fn error_ratio(&self) -> f64 {
        if self.requests == 0 {
            return 0.0;
        }
        (self.failures as f64 / self.requests as f64).min(1.0)
    }

    /// Calls that did not fail.
    pub fn successes(&self) -> u64 {
        self.requests.saturating_sub(self.failures)
    }

    /// Calls in the histogram: `requests`, unless a stored row's
    /// histogram could not be read.
    pub fn timed(&self) -> u64 {
        self.buckets
            .iter()
            .fold(0u64, |sum, count| sum.saturating_add(*count))
    }

    /// Calls in bucket `bucket` and the ones below it: those that answered
    /// within that bucket's bound.
    pub fn at_or_under(&self, bucket: usize) -> u64 {
        self.buckets
            .iter()
            .take(bucket.saturating_add(1))
            .fold(0u64, |sum, count| sum.saturating_add(*count))
    }

    /// The 99th percentile latency: see [`Self::quantile_bound`].
    pub fn p99(&self) -> Option<Duration> {
        self.quantile_bound(99, 100)
    }

    /// The `numerator / denominator` quantile of the latencies (nearest
    /// rank), as the upper bound of the bucket it falls in; the last bound
    /// when it falls beyond it (the quantile is at least that). `None`
    /// without timed calls or for a fraction outside (0, 1].
    pub fn quantile_bound(&self, numerator: u64, denominator: u64) -> Option<Duration> {
        let timed = self.timed();
        if timed == 0 || numerator == 0 || numerator > denominator {
            return None;
        }
        // ceil(timed × numerator / denominator), in u128 so it cannot wrap.
        let rank = (u128::from(timed) * u128::from(numerator)).div_ceil(u128::from(denominator));
        let mut below = 0u128;
        for (index, count) in self.buckets.iter().enumerate() {
            below += u128::from(*count);
            if below >= rank {
                let last = LATENCY_BOUNDS_MICROS.len() - 1;
                return Some(Duration::from_micros(
                    LATENCY_BOUNDS_MICROS[index.min(last)],
                ));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calls(latencies_millis: &[(u64, usize)]) -> CallCounts {
        let mut counts = CallCounts::default();
        for (millis, times) in latencies_millis {
            for _ in 0..*times {
                counts.add_call(false, Duration::from_millis(*millis));
            }
        }
        counts
    }

    #[test]
    fn p99_is_the_bound_of_the_bucket_the_99th_call_falls_in() {
        // 99 fast calls and one slow: the 99th is fast.
        let mostly_fast = calls(&[(3, 99), (700, 1)]);
        assert_eq!(mostly_fast.p99(), Some(Duration::from_millis(5)));
        // 98 fast and two slow: the 99th is slow.
        let two_slow = calls(&[(3, 98), (700, 2)]);
        assert_eq!(two_slow.p99(), Some(Duration::from_secs(1)));
        // One call is its own p99.
        assert_eq!(calls(&[(20, 1)]).p99(), Some(Duration::from_millis(25)));
        assert_eq!(CallCounts::default().p99(), None);
    }

    #[test]
    fn p99_beyond_the_last_bound_is_the_last_bound() {
        let slow = calls(&[(60_000, 3)]);
        assert_eq!(slow.p99(), Some(Duration::from_secs(10)));
        assert_eq!(slow.buckets[LATENCY_BUCKETS - 1], 3);
    }

    #[test]
    fn merged_counts_are_the_counts_of_all_calls() {
        let mut first = calls(&[(1, 2), (30, 1)]);
        let mut second = calls(&[(30, 4)]);
        second.add_call(true, Duration::from_millis(400));
        first.merge(&second);
        let all = {
            let mut all = calls(&[(1, 2), (30, 5)]);
            all.add_call(true, Duration::from_millis(400));
            all
        };
        assert_eq!(first, all);
        assert_eq!(first.requests, 8);
        assert_eq!(first.failures, 1);
        assert_eq!(first.error_ratio(), 0.125);
        assert_eq!(first.latency_sum_micros, 2_000 + 150_000 + 400_000);
        // Within 50ms: the two 1ms calls and the five 30ms ones.
        assert_eq!(first.at_or_under(5), 7);
        assert_eq!(first.at_or_under(LATENCY_BUCKETS + 5), 8);
    }

    #[test]
    fn counts_saturate_instead_of_wrapping() {
        let mut full = CallCounts {
            requests: u64::MAX,
            failures: u64::MAX,
            latency_sum_micros: u64::MAX,
            buckets: [u64::MAX; LATENCY_BUCKETS],
        };
        full.add_call(true, Duration::MAX);
        let copy = full;
        full.merge(&copy);
        assert_eq!(full.requests, u64::MAX);
        assert_eq!(full.timed(), u64::MAX);
        assert_eq!(full.error_ratio(), 1.0);
        assert_eq!(full.p99(), Some(Duration::from_micros(1_000)));
    }
}
