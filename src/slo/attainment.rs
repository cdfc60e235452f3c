//! How a window's calls measure against one objective: what they
//! achieved, whether that meets the target, and how much of the error
//! budget (the share of calls allowed to miss) is left.

/// A window measured against one objective.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Attainment {
    /// The objective, e.g. `0.999`.
    pub target: f64,
    /// The fraction of calls that met it; 1 without calls.
    pub achieved: f64,
    /// Whether `achieved` is at least `target`.
    pub met: bool,
    /// `1 - missed / allowed`, where `allowed` is `1 - target`: 1 when no
    /// call missed, 0 when exactly the budget did, below 0 when more did.
    pub budget_remaining: f64,
}

/// `good` of `total` calls measured against `target` (validated to be in
/// (0, 1), so the budget is never empty).
pub fn attainment(target: f64, good: u64, total: u64) -> Attainment {
    if total == 0 {
        return Attainment {
            target,
            achieved: 1.0,
            met: true,
            budget_remaining: 1.0,
        };
    }
    let good = good.min(total);
    let total_calls = total as f64;
    let achieved = good as f64 / total_calls;
    // From the count of misses rather than `1 - achieved`, which would
    // lose the small differences a budget is made of.
    let missed = (total - good) as f64 / total_calls;
    let allowed = 1.0 - target;
    let budget_remaining = if allowed > 0.0 {
        1.0 - missed / allowed
    } else if missed > 0.0 {
        f64::NEG_INFINITY
    } else {
        1.0
    };
    Attainment {
        target,
        achieved,
        met: achieved >= target,
        budget_remaining,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(left: f64, right: f64) -> bool {
        (left - right).abs() < 1e-9
    }

    #[test]
    fn no_calls_meet_every_objective_with_the_whole_budget() {
        let none = attainment(0.999, 0, 0);
        assert!(none.met);
        assert_eq!((none.achieved, none.budget_remaining), (1.0, 1.0));
    }

    #[test]
    fn the_budget_is_the_share_of_calls_allowed_to_miss() {
        // 0.1 % may fail: 1 of 1000 spends it exactly.
        let exact = attainment(0.999, 999, 1000);
        assert!(exact.met);
        assert!(close(exact.budget_remaining, 0.0), "{exact:?}");
        let half = attainment(0.99, 995, 1000);
        assert!(half.met && close(half.budget_remaining, 0.5), "{half:?}");
        let perfect = attainment(0.99, 1000, 1000);
        assert_eq!(perfect.budget_remaining, 1.0);
    }

    #[test]
    fn an_overspent_budget_is_negative_and_the_objective_missed() {
        // 3 % failed where 1 % may: spent three times over.
        let over = attainment(0.99, 97, 100);
        assert!(!over.met);
        assert!(close(over.achieved, 0.97));
        assert!(close(over.budget_remaining, -2.0), "{over:?}");
        let all_failed = attainment(0.999, 0, 3);
        assert!(!all_failed.met);
        assert!(close(all_failed.budget_remaining, -999.0), "{all_failed:?}");
    }

    #[test]
    fn more_good_calls_than_calls_count_as_all_good() {
        let odd = attainment(0.9, 12, 10);
        assert_eq!(odd.achieved, 1.0);
        assert!(odd.met);
    }
}
