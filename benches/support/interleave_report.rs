//! The tables of an interleaved run ([`super::interleave`]): each case's
//! latency and throughput, and its ratio against its reference case.

use super::interleave::{Case, Load, Sequential, Throughput};
use super::stats::{mean, nearest_rank as percentile, spread};

/// Each phase's samples are split in this many consecutive blocks to
/// show how much a ratio moves within one run.
pub const BLOCKS: usize = 10;

/// Median, min and max of `values`, as text.
fn blocks_spread(values: &[f64]) -> String {
    spread(values, 3, "..")
}

/// Latency ratios of case `index` against `reference`: of the means, of
/// the medians, and of the medians block by block.
pub fn latency_ratios(
    measured: &Sequential,
    index: usize,
    reference: Option<usize>,
) -> Option<(f64, f64, Vec<f64>)> {
    let (case, reference) = (&measured.calls_ns[index], &measured.calls_ns[reference?]);
    let block = case.len().div_ceil(BLOCKS).max(1);
    let blocks = case
        .chunks(block)
        .zip(reference.chunks(block))
        .map(|(case, reference)| percentile(case, 0.5) / percentile(reference, 0.5))
        .collect();
    let medians = percentile(case, 0.5) / percentile(reference, 0.5);
    Some((mean(case) / mean(reference), medians, blocks))
}

/// Per-call cost ratios from throughput, reference rate over case rate:
/// pooled, and over blocks of consecutive rounds.
pub fn cost_ratios(
    measured: &Throughput,
    index: usize,
    reference: Option<usize>,
) -> Option<(f64, Vec<f64>)> {
    let (case, reference) = (&measured.slices[index], &measured.slices[reference?]);
    let block = case.len().div_ceil(BLOCKS).max(1);
    let blocks = reference
        .chunks(block)
        .zip(case.chunks(block))
        .map(|(reference, case)| Throughput::rate(reference) / Throughput::rate(case))
        .collect();
    Some((Throughput::rate(reference) / Throughput::rate(case), blocks))
}

/// The sequential phase's table: `calls` calls per case on one connection.
pub fn print_sequential<T>(cases: &[Case<T>], calls: usize, measured: &Sequential) {
    println!(
        "sequential: one connection per server, {calls} calls per case, interleaved call by call"
    );
    println!(
        "{:<44} {:>8} {:>8} {:>8} {:>10} {:>10}  x ref p50 in {BLOCKS} blocks: median [min..max]",
        "case", "mean us", "p50 us", "p99 us", "x ref mean", "x ref p50"
    );
    for (index, case) in cases.iter().enumerate() {
        let calls = &measured.calls_ns[index];
        let ratios = latency_ratios(measured, index, case.reference);
        let (mean_ratio, median_ratio, blocks) = match &ratios {
            Some((mean, median, blocks)) => (
                format!("{mean:.3}"),
                format!("{median:.3}"),
                blocks_spread(blocks),
            ),
            None => ("-".to_owned(), "-".to_owned(), "-".to_owned()),
        };
        println!(
            "{:<44} {:>8.1} {:>8.1} {:>8.1} {mean_ratio:>10} {median_ratio:>10}  {blocks}",
            case.label,
            mean(calls) / 1e3,
            percentile(calls, 0.5) / 1e3,
            percentile(calls, 0.99) / 1e3,
        );
    }
}

/// The concurrent phase's table, under `load` over `connections`
/// connections per server.
pub fn print_concurrent<T>(
    cases: &[Case<T>],
    load: &Load,
    connections: usize,
    measured: &Throughput,
) {
    println!(
        "concurrent: {} in flight over {connections} connections per server, {} shuffled rounds of {} ms per case (ResolveTenant cases apart from GetTenant cases)",
        load.in_flight,
        load.rounds,
        load.slice.as_millis()
    );
    println!(
        "{:<44} {:>8} {:>8} {:>10}  x ref cost in {BLOCKS} blocks: median [min..max]",
        "case", "calls/s", "mean us", "x ref cost"
    );
    for (index, case) in cases.iter().enumerate() {
        let (pooled, rounds) = match cost_ratios(measured, index, case.reference) {
            Some((pooled, rounds)) => (format!("{pooled:.3}"), blocks_spread(&rounds)),
            None => ("-".to_owned(), "-".to_owned()),
        };
        let calls = measured.calls[index];
        println!(
            "{:<44} {:>8.0} {:>8.1} {pooled:>10}  {rounds}",
            case.label,
            Throughput::rate(&measured.slices[index]),
            measured.latency_ns[index] as f64 / calls.max(1) as f64 / 1e3,
        );
    }
}

/// Judges case `index` against its reference on the robust figures: the
/// p50 latency ratio and the cost ratio under load, each at most `target`.
/// The mean is shown too; tails move it most.
pub fn print_verdict<T>(
    cases: &[Case<T>],
    label: &str,
    index: usize,
    target: f64,
    (sequential, throughput): (&Sequential, &Throughput),
) {
    let reference = cases[index].reference;
    let (mean_ratio, p50_ratio, _) =
        latency_ratios(sequential, index, reference).unwrap_or_default();
    let (cost_ratio, _) = cost_ratios(throughput, index, reference).unwrap_or_default();
    let reference = reference.unwrap_or_default();
    let p50_extra_us = (percentile(&sequential.calls_ns[index], 0.5)
        - percentile(&sequential.calls_ns[reference], 0.5))
        / 1e3;
    let cost_extra_us = 1e6 / Throughput::rate(&throughput.slices[index])
        - 1e6 / Throughput::rate(&throughput.slices[reference]);
    let verdict = if p50_ratio <= target && cost_ratio <= target {
        "met"
    } else {
        "NOT met"
    };
    println!(
        "layer with {label}: p50 latency {:+.1} % ({p50_extra_us:+.1} us), mean {:+.1} %; \
         per-call cost under load {:+.1} % ({cost_extra_us:+.2} us of the machine); \
         target <= {:.0} %: {verdict}",
        (p50_ratio - 1.0) * 100.0,
        (mean_ratio - 1.0) * 100.0,
        (cost_ratio - 1.0) * 100.0,
        (target - 1.0) * 100.0,
    );
}
