//! The Redis limiter: each batch is one call of one Lua script
//! (`apply.lua`), so it is atomic across every replica sharing the Redis.
//! All keys of a batch share the tenant's hash tag, so the script runs
//! unchanged on Redis Cluster, where a script may touch only one slot.
//!
//! Time inside the script is Redis's own clock (`TIME`), so replicas with
//! skewed clocks still agree on rate windows; calendar periods come from
//! the replica's clock as counter names and expiry times.
//!
//! Each script call is a client span by the OpenTelemetry database
//! conventions (`EVALSHA`, `db.system.name` `redis`), a child of the call
//! it serves; keys and arguments, which name tenants and quotas, are not
//! recorded.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::{Client, Script};
use tracing::Span;
use tracing::field::Empty;

use crate::common::otel;
use crate::error::{Error, Result};
use crate::quota::limiter::bounds::{MAX_USAGE, MAX_WAIT_MS, beyond_usage, check_batch};
use crate::quota::limiter::{Answer, Batch, Counter, IDEMPOTENCY_TTL, Limiter};

/// The one script every batch runs.
const APPLY: &str = include_str!("apply.lua");

/// The script's status when a charge would go beyond the bounds.
const OUT_OF_BOUNDS: i64 = 2;

/// How the limiter reaches Redis.
#[derive(Clone)]
enum Link {
    /// One server; reconnects by itself when the connection drops.
    Single(ConnectionManager),
    /// A Redis Cluster; routes each script call by its keys' hash tag.
    Cluster(std::sync::Arc<ClusterLink>),
}

/// A Redis Cluster connection made on first use (and tried again on each
/// use until it is made), so a replica can start while the cluster is away.
struct ClusterLink {
    /// Makes the connection.
    client: ClusterClient,
    /// The connection, once made; it then follows the cluster by itself.
    connection: tokio::sync::OnceCell<ClusterConnection>,
}

/// Counters in one Redis or one Redis Cluster.
#[derive(Clone)]
pub struct RedisLimiter {
    /// The connection.
    link: Link,
    /// The batch script, loaded by hash on first use.
    script: Script,
    /// The database index, the spans' `db.namespace`: none on a cluster,
    /// which has database 0 only.
    namespace: Option<&'static str>,
}

impl std::fmt::Debug for RedisLimiter {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RedisLimiter")
            .finish_non_exhaustive()
    }
}

fn unavailable(error: redis::RedisError) -> Error {
    tracing::warn!(%error, "redis call failed");
    Error::Unavailable {
        message: "the quota counters are unavailable; retry later".to_owned(),
    }
}

impl RedisLimiter {
    /// Connects to the Redis Cluster that the comma-separated seed `urls`
    /// belong to; with `lazy`, on first use, so a server can start while
    /// the cluster is away.
    pub async fn connect_cluster(urls: &str, lazy: bool) -> Result<Self> {
        let nodes: Vec<&str> = urls.split(',').map(str::trim).collect();
        let client = ClusterClientBuilder::new(nodes)
            .connection_timeout(Duration::from_millis(500))
            .response_timeout(Duration::from_secs(1))
            .retries(1)
            .build()
            .map_err(|error| {
                Error::invalid_field("redis_url", format!("is not a list of Redis URLs: {error}"))
            })?;
        let limiter = Self {
            link: Link::Cluster(std::sync::Arc::new(ClusterLink {
                client,
                connection: tokio::sync::OnceCell::new(),
            })),
            script: Script::new(APPLY),
            namespace: None,
        };
        if !lazy {
            limiter.cluster_connection().await?;
        }
        Ok(limiter)
    }

    /// The cluster connection, made now if it was not yet.
    async fn cluster_connection(&self) -> Result<ClusterConnection> {
        let Link::Cluster(cluster) = &self.link else {
            return Err(Error::internal("not a Redis Cluster link"));
        };
        cluster
            .connection
            .get_or_try_init(|| cluster.client.get_async_connection())
            .await
            .cloned()
            .map_err(unavailable)
    }

    /// Connects to the Redis at `url` (`redis://host:port/db`); with
    /// `lazy`, on first use, so a server can start while Redis is away.
    pub async fn connect(url: &str, lazy: bool) -> Result<Self> {
        let client = Client::open(url).map_err(|error| {
            Error::invalid_field("redis_url", format!("is not a Redis URL: {error}"))
        })?;
        let db = client.get_connection_info().redis_settings().db();
        // Quota checks sit on hot paths: when Redis is away, fail fast and
        // let the failure policy answer, instead of waiting out a long
        // reconnection backoff on every call.
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(Duration::from_millis(100))
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_secs(1)));
        let connection = if lazy {
            ConnectionManager::new_lazy_with_config(client, config).map_err(unavailable)?
        } else {
            ConnectionManager::new_with_config(client, config)
                .await
                .map_err(unavailable)?
        };
        Ok(Self {
            link: Link::Single(connection),
            script: Script::new(APPLY),
            namespace: database_index(db),
        })
    }

    /// The span of one script call, a child of the current span; disabled
    /// when there is none.
    fn span(&self) -> Span {
        if Span::current().is_none() {
            return Span::none();
        }
        // The script runs by hash; the first call on a server that has not
        // loaded it yet loads it and repeats the EVALSHA.
        tracing::info_span!(
            "redis",
            otel.name = "EVALSHA",
            otel.kind = "client",
            otel.status_code = Empty,
            db.system.name = "redis",
            db.namespace = self.namespace,
            db.operation.name = "EVALSHA",
            "error.type" = Empty,
        )
    }
}

/// The database index `db` as `db.namespace` spells it, for the indexes a
/// Redis server has by default (0–15); others go unnamed rather than
/// formatted on every call.
fn database_index(db: i64) -> Option<&'static str> {
    const NAMES: [&str; 16] = [
        "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15",
    ];
    usize::try_from(db)
        .ok()
        .and_then(|index| NAMES.get(index))
        .copied()
}

/// The script's per-item arguments: counter, action, cost, ceiling, p1, p2.
fn item_args(counter: &Counter) -> (&'static str, i64, i64) {
    match counter {
        Counter::TokenBucket { limit, period_ms } => ("tb", *limit, *period_ms),
        Counter::SlidingWindow { period_ms } => ("sw", *period_ms, 0),
        Counter::Periodic { reset_ms, .. } => ("p", *reset_ms, 0),
        Counter::Allocation => ("a", 0, 0),
    }
}

#[tonic::async_trait]
impl Limiter for RedisLimiter {
    async fn apply(&self, batch: &Batch) -> Result<Answer> {
        check_batch(batch)?;
        let mut invocation = self.script.prepare_invoke();
        let answer_key = batch.answer_key();
        let remember = answer_key.is_some();
        // A placeholder on the same hash tag keeps the batch in one slot.
        invocation
            .key(answer_key.unwrap_or_else(|| format!("tenantd:{{{}}}:req:-", batch.tenant_id)));
        invocation
            .arg(batch.mode.code())
            .arg(if remember { "1" } else { "0" })
            .arg(i64::try_from(IDEMPOTENCY_TTL.as_millis()).unwrap_or(i64::MAX))
            .arg(MAX_USAGE)
            .arg(MAX_WAIT_MS);
        for item in &batch.items {
            let (counter, p1, p2) = item_args(&item.counter);
            let action = match item.action {
                crate::quota::limiter::Action::Charge => "charge",
                crate::quota::limiter::Action::Check => "check",
                crate::quota::limiter::Action::Release => "release",
            };
            invocation
                .key(batch.counter_key(item))
                .arg(counter)
                .arg(action)
                .arg(item.cost)
                .arg(
                    item.ceiling
                        .map(|ceiling| ceiling.to_string())
                        .unwrap_or_default(),
                )
                .arg(p1)
                .arg(p2);
        }
        let span = self.span();
        let called = async {
            match &self.link {
                Link::Single(connection) => invocation
                    .invoke_async(&mut connection.clone())
                    .await
                    .map_err(unavailable),
                Link::Cluster(_) => {
                    let mut connection = self.cluster_connection().await?;
                    invocation
                        .invoke_async(&mut connection)
                        .await
                        .map_err(unavailable)
                }
            }
        };
        let called: Result<(i64, String)> =
            tracing::Instrument::instrument(called, span.clone()).await;
        if let Err(error) = &called {
            otel::record_outcome(&span, error.code());
        }
        let (status, payload) = called?;
        if status == OUT_OF_BOUNDS {
            // The script names the item (from 1) whose charge would take
            // its counter beyond the bounds; it changed nothing.
            let item = payload
                .parse::<usize>()
                .ok()
                .and_then(|index| batch.items.get(index.checked_sub(1)?));
            return Err(item.map_or_else(
                || Error::internal("the quota script named no item out of bounds"),
                beyond_usage,
            ));
        }
        let mut answer: Answer = serde_json::from_str(&payload).map_err(Error::internal)?;
        answer.replayed = status == 1;
        Ok(answer)
    }
}
