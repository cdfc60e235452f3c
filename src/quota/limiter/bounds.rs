//! The bounds that keep every counter's arithmetic exact, and the same, on
//! every limiter.
//!
//! Redis runs the batch script in Lua, whose numbers are doubles: exact for
//! integers up to 2^53 (about 9.007 × 10^15) and no further. So costs,
//! limits and bursts are at most [`MAX_AMOUNT`] (10^15), and a counter
//! holds at most [`MAX_USAGE`] (4 × 10^15): a ceiling (a limit plus at most
//! 100 % grace) stays below `MAX_USAGE`, and usage plus any one cost stays
//! below 2^53, so the in-process limiter and the script compute the same
//! exact integers, in debug and release builds alike.
//!
//! The conversion boundary refuses larger costs and limits;
//! [`check_batch`] refuses them again at the limiter as a backstop. A
//! charge that would take a counter beyond `MAX_USAGE` (only possible in
//! ADJUST mode, or on a quota without a ceiling) is refused as a whole
//! batch, before anything changes, with INVALID_ARGUMENT naming the cost's
//! request field ([`beyond_usage`]).

use crate::error::{Error, FieldViolation, Result};
use crate::quota::limiter::{Batch, Item};

/// The largest cost (in magnitude), limit or burst: 10^15.
pub const MAX_AMOUNT: i64 = 1_000_000_000_000_000;

/// The most one counter holds: 4 × 10^15.
pub const MAX_USAGE: i64 = 4 * MAX_AMOUNT;

/// Waits (until a retry may fit, until usage resets) are answered up to
/// about 100 years, in ms. Longer means "not soon" just as well, and the
/// clamp keeps every time the limiters answer an exact, representable
/// integer (a 1-per-hour bucket of 10^15 tokens would otherwise drain in
/// 3.6 × 10^21 ms, beyond `i64`).
pub const MAX_WAIT_MS: i64 = 100 * 365 * 24 * 3_600_000;

/// Integers Lua's doubles hold exactly: up to 2^53.
const LUA_EXACT: i64 = 1 << 53;

// The bounds hold together, checked when compiling: a ceiling with 100 %
// grace fits a counter, usage plus one cost is exact in Lua, and so is a
// reset time (now, until 2100, plus the longest wait).
const _: () = assert!(2 * MAX_AMOUNT <= MAX_USAGE);
const _: () = assert!(MAX_USAGE + MAX_AMOUNT < LUA_EXACT);
const _: () = assert!(4_102_444_800_000 + MAX_WAIT_MS < LUA_EXACT);

/// The violation of a cost, limit or burst `field` beyond [`MAX_AMOUNT`].
pub fn amount_violation(field: impl Into<String>, what: &str) -> FieldViolation {
    FieldViolation::new(field, format!("{what} must be at most {MAX_AMOUNT}"))
}

/// Whether `cost` is within `±`[`MAX_AMOUNT`].
pub fn cost_in_bounds(cost: i64) -> bool {
    cost.checked_abs()
        .is_some_and(|magnitude| magnitude <= MAX_AMOUNT)
}

/// A charge of `item` would take its counter beyond [`MAX_USAGE`].
pub fn beyond_usage(item: &Item) -> Error {
    Error::InvalidArgument(vec![FieldViolation::new(
        item.field.clone(),
        format!(
            "would take the usage of quota {:?} beyond {MAX_USAGE}, the most a counter holds",
            item.quota
        ),
    )])
}

/// Whether a charge of `granted` at usage `used` would take a counter
/// beyond [`MAX_USAGE`]. Both are below 2^53, so the sum is exact.
pub fn overflows(used: f64, granted: i64) -> bool {
    granted > 0 && used + granted as f64 > MAX_USAGE as f64
}

/// Refuses a batch whose costs or ceilings are out of bounds: costs beyond
/// [`MAX_AMOUNT`] as INVALID_ARGUMENT naming each field, ceilings beyond
/// [`MAX_USAGE`] as an internal error (the domain clamps them).
pub fn check_batch(batch: &Batch) -> Result<()> {
    let violations: Vec<FieldViolation> = batch
        .items
        .iter()
        .filter(|item| !cost_in_bounds(item.cost))
        .map(|item| amount_violation(item.field.clone(), "a cost, in magnitude,"))
        .collect();
    if !violations.is_empty() {
        return Err(Error::InvalidArgument(violations));
    }
    let out_of_bounds = |ceiling: i64| !(0..=MAX_USAGE).contains(&ceiling);
    if batch
        .items
        .iter()
        .filter_map(|item| item.ceiling)
        .any(out_of_bounds)
    {
        return Err(Error::internal(
            "a quota ceiling beyond the counters' maximum",
        ));
    }
    Ok(())
}

/// A wait in ms, rounded up and clamped to `0..=MAX_WAIT_MS` (NaN is 0).
pub fn clamp_wait(ms: f64) -> i64 {
    // `as` saturates and maps NaN to 0; the clamp bounds the rest.
    (ms.ceil() as i64).clamp(0, MAX_WAIT_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_clamped() {
        assert_eq!(clamp_wait(f64::NAN), 0);
        assert_eq!(clamp_wait(-5.0), 0);
        assert_eq!(clamp_wait(1.2), 2);
        assert_eq!(clamp_wait(3.6e21), MAX_WAIT_MS);
        assert_eq!(clamp_wait(f64::INFINITY), MAX_WAIT_MS);
    }

    #[test]
    fn only_charges_past_the_maximum_overflow() {
        assert!(!overflows(MAX_USAGE as f64 - 1.0, 1));
        assert!(overflows(MAX_USAGE as f64, 1));
        assert!(!overflows(MAX_USAGE as f64, -MAX_AMOUNT));
        assert!(!overflows(MAX_USAGE as f64, 0));
    }
}
