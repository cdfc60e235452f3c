//! The failure contract of the Redis limiter. When Redis cannot be reached
//! a replica either counts on a local, in-process limiter and marks every
//! answer `degraded` (fail-open: the tenant keeps working, within limits
//! this replica alone enforces), or refuses with UNAVAILABLE (fail-closed).
//! Either way the failure is logged once per outage and counted. Redis's
//! connection manager reconnects by itself, so answers recover as soon as
//! Redis does; local counts made meanwhile are not carried over.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::error::{Error, Result};
use crate::quota::limiter::memory::MemoryLimiter;
use crate::quota::limiter::redis::RedisLimiter;
use crate::quota::limiter::{Answer, Batch, Limiter, RedisFailure};

/// Counter of quota calls Redis could not answer, labelled by policy.
pub const REDIS_FAILURES: &str = "tenantd_quota_redis_failures_total";

/// Redis first, and the policy when it fails.
#[derive(Debug)]
pub struct Fallback {
    /// The shared counters.
    redis: RedisLimiter,
    /// Counts while Redis is away (fail-open only).
    local: MemoryLimiter,
    /// What to do when Redis fails.
    policy: RedisFailure,
    /// Whether the last call found Redis away, to log outages once.
    down: AtomicBool,
    /// Calls Redis could not answer, for operators.
    failures: AtomicU64,
}

impl Fallback {
    /// `redis`, falling back per `policy`.
    pub fn new(redis: RedisLimiter, policy: RedisFailure) -> Self {
        Self {
            redis,
            local: MemoryLimiter::default(),
            policy,
            down: AtomicBool::new(false),
            failures: AtomicU64::new(0),
        }
    }

    /// Calls Redis could not answer since start.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }
}

#[tonic::async_trait]
impl Limiter for Fallback {
    async fn apply(&self, batch: &Batch) -> Result<Answer> {
        match self.redis.apply(batch).await {
            Ok(answer) => {
                if self.down.swap(false, Ordering::Relaxed) {
                    tracing::info!("quota counters reachable again in Redis");
                }
                Ok(answer)
            }
            Err(Error::Unavailable { message }) => {
                let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
                metrics::counter!(REDIS_FAILURES, "policy" => self.policy.label()).increment(1);
                if !self.down.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        policy = ?self.policy,
                        failures,
                        "quota counters unreachable in Redis"
                    );
                }
                match self.policy {
                    RedisFailure::Closed => Err(Error::Unavailable { message }),
                    RedisFailure::Open => {
                        let mut answer = self.local.apply(batch).await?;
                        for outcome in &mut answer.outcomes {
                            outcome.degraded = true;
                        }
                        Ok(answer)
                    }
                }
            }
            Err(other) => Err(other),
        }
    }
}
