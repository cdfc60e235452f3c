//! Closed-loop load: blocks of calls kept in flight for a set time, and a
//! measured call compared with a baseline call in alternating blocks.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tonic::transport::Channel;

use super::cpu::{TICKS_PER_SECOND, cpu_ticks};
use super::stats::median;

/// One measured block: calls per second, per-call latencies (µs) and the
/// CPU time the server's and the load generator's threads spent per call.
pub struct Block {
    /// Calls completed per second.
    pub rate: f64,
    /// Each call's latency, in microseconds.
    pub latencies: Vec<u64>,
    /// CPU time of the server's threads per call, µs.
    pub server_cpu: f64,
    /// CPU time of every other thread of the process per call, µs.
    pub client_cpu: f64,
}

/// How hard and how long the comparison benches load the server.
#[derive(Debug, clap::Args)]
pub struct LoadOptions {
    /// Calls in flight at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Length of one measured block, in milliseconds.
    #[arg(long, default_value_t = 1500)]
    pub block_ms: u64,
    /// Blocks per side (baseline, measured call) and configuration.
    #[arg(long, default_value_t = 5)]
    pub blocks: usize,
}

/// `load.concurrency` tasks each calling `call(n)` (with `n` counting calls
/// across tasks) one after the other until `load.block_ms` has passed.
pub async fn load_block<F, Fut>(load: &LoadOptions, call: F) -> Block
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let counter = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let cpu_before = cpu_ticks();
    let started = Instant::now();
    let tasks: Vec<_> = (0..load.concurrency)
        .map(|_| {
            let (call, stop, counter) = (call.clone(), Arc::clone(&stop), Arc::clone(&counter));
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let number = counter.fetch_add(1, Ordering::Relaxed);
                    let sent = Instant::now();
                    call(number).await;
                    latencies.push(sent.elapsed().as_micros() as u64);
                }
                latencies
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(load.block_ms)).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("load task"));
    }
    let rate = latencies.len() as f64 / started.elapsed().as_secs_f64();
    let cpu_after = cpu_ticks();
    let per_call = |before: u64, after: u64| {
        (after - before) as f64 / TICKS_PER_SECOND * 1e6 / latencies.len().max(1) as f64
    };
    Block {
        rate,
        server_cpu: per_call(cpu_before.0, cpu_after.0),
        client_cpu: per_call(cpu_before.1, cpu_after.1),
        latencies,
    }
}

/// [`load_block`] of `call(channel, parent, n)`, each task with its own
/// copy of `channel` and `parent`.
pub async fn load_calls<F, Fut>(
    load: &LoadOptions,
    channel: &Channel,
    parent: &str,
    call: F,
) -> Block
where
    F: Fn(Channel, String, u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let (channel, parent) = (channel.clone(), parent.to_owned());
    load_block(load, move |number| {
        call(channel.clone(), parent.clone(), number)
    })
    .await
}

/// A measured call against a baseline call on the same server, in
/// alternating blocks.
pub struct Comparison {
    /// The baseline's median rate over the blocks, calls per second.
    pub baseline_rate: f64,
    /// The measured call's median rate over the blocks.
    pub measured_rate: f64,
    /// The lowest and highest ratio of one block pair.
    pub spread: (f64, f64),
    /// Every baseline latency, µs.
    pub baseline_latencies: Vec<u64>,
    /// Every measured latency, µs.
    pub measured_latencies: Vec<u64>,
    /// Median server CPU per call, µs: baseline, measured.
    pub server_cpu: (f64, f64),
    /// Median load generator CPU per call, µs: baseline, measured.
    pub client_cpu: (f64, f64),
}

impl Comparison {
    /// The measured rate as a share of the baseline's.
    pub fn ratio(&self) -> f64 {
        self.measured_rate / self.baseline_rate
    }

    /// The table cells both rates and their ratio fill:
    /// `baseline | measured | **ratio** (low–high)`.
    pub fn rate_cells(&self) -> String {
        format!(
            "{:.0} | {:.0} | **{:.2}** ({:.2}–{:.2})",
            self.baseline_rate,
            self.measured_rate,
            self.ratio(),
            self.spread.0,
            self.spread.1,
        )
    }
}

/// The per-block figures [`compare`] keeps, one list per side.
#[derive(Default)]
struct Kept {
    rates: Vec<f64>,
    latencies: Vec<u64>,
    server_cpu: Vec<f64>,
    client_cpu: Vec<f64>,
}

impl Kept {
    fn add(&mut self, block: Block) {
        self.rates.push(block.rate);
        self.latencies.extend(block.latencies);
        self.server_cpu.push(block.server_cpu);
        self.client_cpu.push(block.client_cpu);
    }
}

/// Warms both sides with one block each, then runs `blocks` pairs of
/// blocks, baseline first, so drift of the machine hits both alike.
pub async fn compare<B, M, BF, MF>(blocks: usize, baseline: B, measured: M) -> Comparison
where
    B: Fn() -> BF,
    M: Fn() -> MF,
    BF: Future<Output = Block>,
    MF: Future<Output = Block>,
{
    measured().await;
    baseline().await;
    let (mut base, mut other) = (Kept::default(), Kept::default());
    for _ in 0..blocks {
        base.add(baseline().await);
        other.add(measured().await);
    }
    let ratios: Vec<f64> = other
        .rates
        .iter()
        .zip(&base.rates)
        .map(|(other, base)| other / base)
        .collect();
    let spread = (
        ratios.iter().copied().fold(f64::INFINITY, f64::min),
        ratios.iter().copied().fold(0.0, f64::max),
    );
    Comparison {
        baseline_rate: median(&mut base.rates),
        measured_rate: median(&mut other.rates),
        spread,
        baseline_latencies: base.latencies,
        measured_latencies: other.latencies,
        server_cpu: (median(&mut base.server_cpu), median(&mut other.server_cpu)),
        client_cpu: (median(&mut base.client_cpu), median(&mut other.client_cpu)),
    }
}
