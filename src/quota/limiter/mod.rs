//! Quota counters behind one trait: Redis (shared by every replica) or
//! in-process (the embedded default, one replica).
//!
//! A [`Batch`] names several counters of one tenant with a cost each and is
//! applied atomically: in [`Mode::AllOrNothing`] every charge is made or
//! none is. Both implementations keep the same semantics:
//!
//! - a [`Counter::SlidingWindow`] is a log of charges with microsecond
//!   stamps: usage is what was charged in the period ending now, so no span
//!   of one period ever holds more than the ceiling (no edge burst);
//! - a [`Counter::TokenBucket`] counts the tokens missing from a bucket
//!   refilled continuously at `limit` per period;
//! - a [`Counter::Periodic`] counter belongs to one UTC day or month and
//!   expires at its end;
//! - a [`Counter::Allocation`] is a gauge, never below zero on release;
//! - with a request id, the answer of a batch that was not refused is kept
//!   for [`IDEMPOTENCY_TTL`] and returned, unchanged and without charging,
//!   to a retry with the same id. Refused batches are not remembered.
//!
//! - costs, ceilings and counters stay within [`bounds`], so every
//!   limiter's arithmetic is exact; a charge that would go beyond them is
//!   refused before anything changes.
//!
//! Every Redis key of a tenant carries its id as hash tag
//! (`tenantd:{<tenant id>}:…`), so one batch touches one cluster slot.

pub mod bounds;
pub mod fallback;
pub mod memory;
pub mod redis;
mod slot;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::common::ids::TenantId;
use crate::error::Result;

/// How long the answer of an idempotent call is remembered.
pub const IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 3600);

/// What a counter is and how it counts.
#[derive(Debug, Clone, PartialEq)]
pub enum Counter {
    /// Tokens missing from a bucket refilled at `limit` per `period_ms`.
    TokenBucket {
        /// Tokens refilled per period.
        limit: i64,
        /// The period in milliseconds.
        period_ms: i64,
    },
    /// Charges within the last `period_ms`.
    SlidingWindow {
        /// The window in milliseconds.
        period_ms: i64,
    },
    /// Charges within one calendar period.
    Periodic {
        /// Identifies the period, e.g. `d20261122`.
        period_id: String,
        /// When the period ends, in Unix milliseconds.
        reset_ms: i64,
    },
    /// A gauge.
    Allocation,
}

impl Counter {
    /// The counter's key within its tenant: `q:<quota>:<suffix>`.
    fn key(&self, quota: &str) -> String {
        match self {
            Counter::TokenBucket { .. } => format!("q:{quota}:tb"),
            Counter::SlidingWindow { .. } => format!("q:{quota}:sw"),
            Counter::Periodic { period_id, .. } => format!("q:{quota}:p:{period_id}"),
            Counter::Allocation => format!("q:{quota}:a"),
        }
    }
}

/// What one item of a batch does to its counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Raise the counter by the cost, if it fits.
    Charge,
    /// Compare the counter plus the cost with the ceiling; never raise it.
    Check,
    /// Lower the counter by the cost, not below zero; never refused.
    Release,
}

/// How a batch treats refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every charge is made, or none.
    AllOrNothing,
    /// Each charge gets what fits.
    BestEffort,
    /// Nothing changes; the answer says what all-or-nothing would do.
    CheckOnly,
    /// Every charge is made whatever the ceiling, negative ones included.
    Adjust,
}

impl Mode {
    fn code(self) -> &'static str {
        match self {
            Mode::AllOrNothing => "all",
            Mode::BestEffort => "best",
            Mode::CheckOnly => "check",
            Mode::Adjust => "adjust",
        }
    }
}

/// One counter of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The quota key.
    pub quota: String,
    /// The counter.
    pub counter: Counter,
    /// What to do to it.
    pub action: Action,
    /// How much.
    pub cost: i64,
    /// The most usage may reach; `None` never refuses.
    pub ceiling: Option<i64>,
    /// The request field the cost came from (`costs[2].cost`), named when
    /// the cost is refused as out of bounds.
    pub field: String,
}

/// Several counters of one tenant, applied atomically.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// The tenant whose counters these are.
    pub tenant_id: TenantId,
    /// The operation, part of the idempotency key (`check`, `allocate`,
    /// `release`).
    pub operation: &'static str,
    /// The caller's request id, for idempotency.
    pub request_id: Option<String>,
    /// How refusals are treated.
    pub mode: Mode,
    /// The counters.
    pub items: Vec<Item>,
}

impl Batch {
    /// The full key of `item`'s counter, hash-tagged with the tenant.
    pub fn counter_key(&self, item: &Item) -> String {
        format!(
            "tenantd:{{{}}}:{}",
            self.tenant_id,
            item.counter.key(&item.quota)
        )
    }

    /// The key the answer is remembered under, when there is a request id.
    pub fn answer_key(&self) -> Option<String> {
        self.request_id.as_ref().map(|request_id| {
            format!(
                "tenantd:{{{}}}:req:{}:{request_id}",
                self.tenant_id, self.operation
            )
        })
    }
}

/// What happened to one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// The cost fitted (or, for a release, was given back) in full.
    pub allowed: bool,
    /// What was charged or released.
    pub granted: i64,
    /// Usage after the batch.
    pub used: i64,
    /// When usage returns to zero if nothing more is charged, Unix ms.
    pub reset_ms: Option<i64>,
    /// When refused: milliseconds until the same cost could fit.
    pub retry_ms: Option<i64>,
    /// Counted by this replica's local fallback because the shared counters
    /// could not be reached: right for this replica only.
    #[serde(default)]
    pub degraded: bool,
}

/// The answer to a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// One outcome per item, in order.
    pub outcomes: Vec<Outcome>,
    /// A remembered answer to an earlier call with the same request id.
    #[serde(default)]
    pub replayed: bool,
}

impl Answer {
    /// Whether every item was allowed.
    pub fn allowed(&self) -> bool {
        self.outcomes.iter().all(|outcome| outcome.allowed)
    }
}

/// Quota counters.
#[tonic::async_trait]
pub trait Limiter: Send + Sync + std::fmt::Debug {
    /// Applies `batch` atomically.
    async fn apply(&self, batch: &Batch) -> Result<Answer>;
}

/// What to answer when Redis cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum RedisFailure {
    /// Count on this replica's local limiter and mark answers `degraded`.
    #[default]
    Open,
    /// Refuse with UNAVAILABLE.
    Closed,
}

impl RedisFailure {
    /// The metric label: `open` or `closed`.
    pub fn label(self) -> &'static str {
        match self {
            RedisFailure::Open => "open",
            RedisFailure::Closed => "closed",
        }
    }
}

/// The limiter the configuration asks for: Redis at `redis_url` (with the
/// `on_failure` policy), or in-process when there is none.
pub async fn connect(
    redis_url: Option<&str>,
    cluster: bool,
    on_failure: RedisFailure,
    panics_for: Option<TenantId>,
) -> Result<Arc<dyn Limiter>> {
    let (limiter, backend): (Arc<dyn Limiter>, _) = match redis_url {
        Some(url) => {
            // Failing open, the replica serves while Redis is away, from
            // the start too; failing closed, an unreachable Redis stops it.
            let lazy = on_failure == RedisFailure::Open;
            let redis = if cluster {
                redis::RedisLimiter::connect_cluster(url, lazy).await?
            } else {
                redis::RedisLimiter::connect(url, lazy).await?
            };
            let backend = if cluster { "redis_cluster" } else { "redis" };
            (
                Arc::new(fallback::Fallback::new(redis, on_failure)),
                backend,
            )
        }
        None => {
            let memory = match panics_for {
                Some(tenant) => memory::MemoryLimiter::panicking_for(tenant),
                None => memory::MemoryLimiter::default(),
            };
            (Arc::new(memory), "memory")
        }
    };
    Ok(Arc::new(Timed {
        inner: limiter,
        duration: metrics::histogram!(LIMITER_DURATION, "backend" => backend),
    }))
}

/// The histogram of the time the limiter takes per batch, by `backend`.
pub const LIMITER_DURATION: &str = "tenantd_limiter_duration_seconds";

/// A limiter whose every batch is timed in [`LIMITER_DURATION`].
#[derive(Debug)]
struct Timed {
    /// The limiter.
    inner: Arc<dyn Limiter>,
    /// Its backend's series.
    duration: metrics::Histogram,
}

#[tonic::async_trait]
impl Limiter for Timed {
    async fn apply(&self, batch: &Batch) -> Result<Answer> {
        let started = std::time::Instant::now();
        let answer = self.inner.apply(batch).await;
        self.duration.record(started.elapsed().as_secs_f64());
        answer
    }
}
