//! Cases measured against each other in one run, interleaved so that a
//! noisy machine's drift lands on all of them: call by call in the
//! sequential phase, slice by slice under unbroken load in the concurrent
//! one, in a fresh random order every round.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// One measured case: how the tables name it, what it is compared with,
/// and what the bench needs to call it.
pub struct Case<T> {
    /// How the tables name it.
    pub label: &'static str,
    /// The index of the case it is compared with, if any.
    pub reference: Option<usize>,
    /// What the bench calls.
    pub target: T,
}

/// What makes the calls of every case on one connection slot.
pub trait Caller: Send + 'static {
    /// One call of case `index`; panics on an unexpected answer, so a broken
    /// server cannot pass as a fast one.
    fn call(&mut self, index: usize) -> impl Future<Output = ()> + Send;
}

/// Random case orders (xorshift64): on average each case follows every
/// other one equally often, so what a slow call leaves behind (a busy SQLite thread,
/// cold caches) is not always paid by the same case.
pub struct Shuffle(u64);

impl Shuffle {
    /// A generator with a random seed.
    pub fn new() -> Self {
        Self(uuid::Uuid::new_v4().as_u64_pair().0 | 1)
    }

    /// `cases` in a fresh random order.
    pub fn order(&mut self, cases: &[usize]) -> Vec<usize> {
        let mut order = cases.to_vec();
        for last in (1..order.len()).rev() {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            order.swap(last, (self.0 % (last as u64 + 1)) as usize);
        }
        order
    }
}

/// The sequential phase: every call's latency per case, in call order.
pub struct Sequential {
    /// Per case, each call's nanoseconds.
    pub calls_ns: Vec<Vec<u64>>,
}

/// The concurrent phase, per case: calls completed, their summed latency,
/// and each slice's calls and seconds.
pub struct Throughput {
    /// Per case, calls that started in its slices.
    pub calls: Vec<u64>,
    /// Per case, the calls' summed latency.
    pub latency_ns: Vec<u64>,
    /// Per case, each slice's calls and seconds.
    pub slices: Vec<Vec<(u64, f64)>>,
}

impl Throughput {
    /// Nothing measured yet, for `cases` cases.
    pub fn new(cases: usize) -> Self {
        Self {
            calls: vec![0; cases],
            latency_ns: vec![0; cases],
            slices: vec![Vec::new(); cases],
        }
    }

    /// Calls per second over `slices`.
    pub fn rate(slices: &[(u64, f64)]) -> f64 {
        let calls: u64 = slices.iter().map(|(calls, _)| calls).sum();
        calls as f64 / slices.iter().map(|(_, seconds)| seconds).sum::<f64>()
    }
}

/// The knobs of an interleaved run; the defaults keep a full run of the
/// tenant context bench near one minute.
#[derive(Debug, clap::Args)]
pub struct InterleaveOptions {
    /// Sequential calls per case, interleaved call by call.
    #[arg(long, default_value_t = 5000)]
    pub calls: usize,
    /// Rounds of the concurrent phase; each runs every case once.
    #[arg(long, default_value_t = 100)]
    pub rounds: usize,
    /// Milliseconds per case per round in the concurrent phase.
    #[arg(long, default_value_t = 30)]
    pub slice_ms: u64,
    /// Connections per server in the concurrent phase.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Calls in flight in the concurrent phase, spread over the connections.
    #[arg(long, default_value_t = 32)]
    pub in_flight: usize,
    /// Warm-up calls per case before measuring.
    #[arg(long, default_value_t = 300)]
    pub warmup: usize,
}

impl InterleaveOptions {
    /// How the concurrent phase loads the servers.
    pub fn load(&self) -> Load {
        Load {
            in_flight: self.in_flight,
            rounds: self.rounds,
            slice: Duration::from_millis(self.slice_ms),
        }
    }

    /// Exits with a usage error of `Command` if a count is zero, which
    /// would measure nothing.
    pub fn check<Command: clap::CommandFactory>(&self) {
        let counts = [self.calls, self.rounds, self.connections, self.in_flight];
        if counts.contains(&0) || self.slice_ms == 0 {
            Command::command()
                .error(
                    clap::error::ErrorKind::ValueValidation,
                    "--calls, --rounds, --slice-ms, --connections and --in-flight must be at least 1",
                )
                .exit();
        }
    }
}

/// How the concurrent phase loads a server.
pub struct Load {
    /// Calls in flight.
    pub in_flight: usize,
    /// Rounds; each runs every case of a group once.
    pub rounds: usize,
    /// How long a case's slice of a round lasts.
    pub slice: Duration,
}

/// Every phase of `run` over `cases` cases, the concurrent one group by
/// group of `groups`: the warm-up, the sequential phase, the concurrent
/// phase; says on stderr which one is running.
pub async fn phases<C: Caller>(
    caller: impl Fn(usize) -> C,
    cases: usize,
    groups: &[&[usize]],
    run: &InterleaveOptions,
    shuffle: &mut Shuffle,
) -> (Sequential, Throughput) {
    eprintln!("warming up: {} calls per case", run.warmup);
    warm_up(&caller, cases, groups, run.warmup, run.in_flight).await;
    eprintln!("sequential: {} calls per case", run.calls);
    let sequential = sequential(&mut caller(0), cases, run.calls, shuffle).await;
    eprintln!(
        "concurrent: {} rounds of {} ms per case",
        run.rounds, run.slice_ms
    );
    let mut throughput = Throughput::new(cases);
    for group in groups {
        concurrent(&caller, group, &run.load(), shuffle, &mut throughput).await;
    }
    (sequential, throughput)
}

/// Warms every one of `cases` cases with `calls` sequential calls on slot
/// 0, then opens every connection's streams and flow-control windows with
/// a short concurrent run of each of `groups`.
pub async fn warm_up<C: Caller>(
    caller: impl Fn(usize) -> C,
    cases: usize,
    groups: &[&[usize]],
    calls: usize,
    in_flight: usize,
) {
    let mut first = caller(0);
    for index in 0..cases {
        for _ in 0..calls {
            first.call(index).await;
        }
    }
    let load = Load {
        in_flight,
        rounds: 5,
        slice: Duration::from_millis(20),
    };
    let mut discarded = Throughput::new(cases);
    for group in groups {
        concurrent(&caller, group, &load, &mut Shuffle::new(), &mut discarded).await;
    }
}

/// One call of each of `cases` cases per round, `calls` rounds, in a
/// shuffled order, so neither drift nor the call before favours a case.
pub async fn sequential(
    caller: &mut impl Caller,
    cases: usize,
    calls: usize,
    shuffle: &mut Shuffle,
) -> Sequential {
    let mut measured = Sequential {
        calls_ns: (0..cases).map(|_| Vec::with_capacity(calls)).collect(),
    };
    let all: Vec<usize> = (0..cases).collect();
    for _ in 0..calls {
        for index in shuffle.order(&all) {
            let started = Instant::now();
            caller.call(index).await;
            let elapsed_ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            measured.calls_ns[index].push(elapsed_ns);
        }
    }
    measured
}

/// Tells the concurrent callers to stop.
const STOP: usize = usize::MAX;

/// What the concurrent callers share: the schedule of slices, the slice
/// now running, and what each slice and case counted.
struct Shared {
    schedule: Vec<usize>,
    current: AtomicUsize,
    started_in: Vec<AtomicU64>,
    latency_ns: Vec<AtomicU64>,
}

/// Calls the case of the current slice until told to stop.
async fn keep_calling(mut caller: impl Caller, shared: Arc<Shared>) {
    loop {
        let slice = shared.current.load(Ordering::Acquire);
        if slice == STOP {
            break;
        }
        let index = shared.schedule[slice];
        let started = Instant::now();
        caller.call(index).await;
        let elapsed_ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        shared.started_in[slice].fetch_add(1, Ordering::Relaxed);
        shared.latency_ns[index].fetch_add(elapsed_ns, Ordering::Relaxed);
    }
}

/// `in_flight` callers (made by `caller` for their slot) keep calling
/// without pause; every `slice` they switch to the next case of a shuffled
/// round of `group`, so the load never ramps up or down between cases. A
/// call counts for the slice it started in: a slice loses its first
/// moments to the previous slice's calls in flight and gains its own last
/// ones, alike for every case. Adds to `measured`.
pub async fn concurrent<C: Caller>(
    caller: impl Fn(usize) -> C,
    group: &[usize],
    load: &Load,
    shuffle: &mut Shuffle,
    measured: &mut Throughput,
) {
    let schedule: Vec<usize> = (0..load.rounds)
        .flat_map(|_| shuffle.order(group))
        .collect();
    let shared = Arc::new(Shared {
        current: AtomicUsize::new(0),
        started_in: schedule.iter().map(|_| AtomicU64::new(0)).collect(),
        latency_ns: measured.calls.iter().map(|_| AtomicU64::new(0)).collect(),
        schedule,
    });
    let mut callers = tokio::task::JoinSet::new();
    for slot in 0..load.in_flight {
        callers.spawn(keep_calling(caller(slot), shared.clone()));
    }
    let mut seconds = Vec::with_capacity(shared.schedule.len());
    for slice in 0..shared.schedule.len() {
        let started = Instant::now();
        shared.current.store(slice, Ordering::Release);
        tokio::time::sleep(load.slice).await;
        seconds.push(started.elapsed().as_secs_f64());
    }
    shared.current.store(STOP, Ordering::Release);
    while let Some(joined) = callers.join_next().await {
        match joined {
            Ok(()) => {}
            // A wrong answer panicked in the caller: fail the bench with it.
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(error) => panic!("a caller task failed: {error}"),
        }
    }
    for (slice, &index) in shared.schedule.iter().enumerate() {
        let calls = shared.started_in[slice].load(Ordering::Relaxed);
        measured.calls[index] += calls;
        measured.slices[index].push((calls, seconds[slice]));
    }
    for (index, total) in shared.latency_ns.iter().enumerate() {
        measured.latency_ns[index] += total.load(Ordering::Relaxed);
    }
}

/// Nanoseconds per call of each of `cases` in-process cases, `rounds`
/// shuffled rounds of `calls_per_round` calls each after one round that
/// warms caches; `call(index)` makes one call of case `index`.
pub async fn in_process<const N: usize>(
    shuffle: &mut Shuffle,
    rounds: usize,
    calls_per_round: usize,
    call: impl AsyncFn(usize),
) -> [f64; N] {
    let all: Vec<usize> = (0..N).collect();
    let mut total_ns = [0u128; N];
    for round in 0..=rounds {
        for index in shuffle.order(&all) {
            let started = Instant::now();
            for _ in 0..calls_per_round {
                call(index).await;
            }
            // Round 0 warms the cache.
            if round > 0 {
                total_ns[index] += started.elapsed().as_nanos();
            }
        }
    }
    total_ns.map(|total| total as f64 / (rounds * calls_per_round) as f64)
}
