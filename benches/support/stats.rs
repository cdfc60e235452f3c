//! The figures benches report: medians, percentiles, means and spreads.

/// The median of `values` (sorted in place).
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The `quantile` of `values` (sorted in place), by the rounded index
/// `(len - 1) × quantile`.
pub fn percentile<T: Ord + Copy>(values: &mut [T], quantile: f64) -> T {
    values.sort_unstable();
    let index = ((values.len() as f64 - 1.0) * quantile).round() as usize;
    values[index.min(values.len() - 1)]
}

/// The value at `quantile` of `values` (nearest rank), left unsorted.
pub fn nearest_rank(values: &[u64], quantile: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = ((sorted.len() as f64 * quantile).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64
}

/// The mean of `values` (zero for none).
pub fn mean(values: &[u64]) -> f64 {
    values.iter().map(|&value| value as f64).sum::<f64>() / values.len().max(1) as f64
}

/// Median, min and max of `values` as `median [min{between}max]`, with
/// `precision` decimals.
pub fn spread(values: &[f64], precision: usize, between: &str) -> String {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let (median, low, high) = (
        sorted[sorted.len() / 2],
        sorted[0],
        sorted[sorted.len() - 1],
    );
    format!("{median:.precision$} [{low:.precision$}{between}{high:.precision$}]")
}

/// A duration in milliseconds.
pub fn ms(duration: std::time::Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
