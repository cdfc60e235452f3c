//! When a failed delivery is tried again: exponential backoff with jitter,
//! `base · 2^(n−1)` capped at `max`, then shortened by up to a quarter at
//! random so endpoints that failed together are not retried together.
//!
//! Invariant: with the jitter's narrow band, each delay is longer than the
//! one before until the cap (the n-th lies in `[¾·d, d]` with `d`
//! doubling), so a receiver sees its retries spread out.

use std::time::Duration;

/// The delay after the `failures`-th failed attempt (1 for the first),
/// with `jitter` in `[0, 1)` taking off up to a quarter.
pub fn delay(failures: u32, base: Duration, max: Duration, jitter: f64) -> Duration {
    let exponent = failures.saturating_sub(1).min(32);
    let full = base
        .checked_mul(1u32 << exponent.min(31))
        .unwrap_or(max)
        .min(max);
    full.mul_f64(1.0 - jitter.clamp(0.0, 1.0) * 0.25)
}

/// A random jitter in `[0, 1)`; 0 if the system has no randomness to give.
pub fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    match getrandom::fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_be_bytes(bytes)) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_within_their_jitter_until_the_cap() {
        let (base, max) = (Duration::from_secs(5), Duration::from_secs(3600));
        assert_eq!(delay(1, base, max, 0.0), Duration::from_secs(5));
        assert_eq!(delay(2, base, max, 0.0), Duration::from_secs(10));
        assert_eq!(delay(4, base, max, 0.0), Duration::from_secs(40));
        assert_eq!(delay(30, base, max, 0.0), max);
        assert_eq!(delay(u32::MAX, base, max, 0.0), max);
        assert_eq!(
            delay(1, base, max, 0.999_999),
            Duration::from_secs(5).mul_f64(1.0 - 0.999_999 * 0.25)
        );
        for failures in 1..10 {
            let longest_now = delay(failures, base, max, 0.0);
            let shortest_next = delay(failures + 1, base, max, 0.999_999);
            assert!(shortest_next > longest_now || longest_now == max);
        }
    }
}
