//! Prometheus metrics at `--metrics-addr` (`/metrics`, the text format):
//! every `metrics` counter, gauge and histogram of tenantd, and the
//! per-tenant families whose tenant label the [`TenantMetrics`] guard
//! keeps bounded.
//!
//! The recorder is the process's one global `metrics` recorder, installed
//! once however many servers a process runs; histograms render as
//! Prometheus histograms over [`LATENCY_BOUNDS_SECONDS`].

mod rpc;
mod serve;
mod tenants;

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

pub use crate::common::calls::LATENCY_BOUNDS_SECONDS;
use crate::error::{Error, Result};
pub(super) use rpc::record as record_call;
pub(super) use serve::spawn;
pub use tenants::TenantMetrics;

/// The process's recorder, once installed.
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// How often the recorder folds recorded histogram samples into buckets.
const UPKEEP: Duration = Duration::from_secs(5);

/// The process's recorder, installed on the first call.
pub(super) fn recorder() -> Result<PrometheusHandle> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets(LATENCY_BOUNDS_SECONDS)
        .map_err(Error::internal)?
        .install_recorder()
        .map_err(Error::internal)?;
    describe();
    let handle = HANDLE.get_or_init(|| handle).clone();
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(UPKEEP);
        loop {
            ticks.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

/// Ranks tenants for their labels every `interval`.
pub(super) fn spawn_ranking(
    tenants: std::sync::Arc<TenantMetrics>,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        // The first tick is at once: nothing to rank yet.
        ticks.tick().await;
        loop {
            ticks.tick().await;
            tenants.rank();
        }
    })
}

/// The HELP lines of the families recorded through `metrics`.
fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_histogram!(
        rpc::CALL_DURATION,
        Unit::Seconds,
        "Time from a call's arrival to the end of its answer, by service, method and gRPC code"
    );
    describe_counter!(
        crate::quota::QUOTA_DECISIONS,
        "Quota decisions by quota and outcome (allowed, refused, degraded, shadow)"
    );
    describe_histogram!(
        crate::quota::LIMITER_DURATION,
        Unit::Seconds,
        "Time the limiter took to decide one batch, by backend"
    );
    describe_histogram!(
        crate::store::DB_TRANSACTION_DURATION,
        Unit::Seconds,
        "Time a database transaction took, by mode (read, write)"
    );
    describe_counter!(
        crate::common::cache::CACHE_REQUESTS,
        "Cache lookups by cache and result (hit, miss)"
    );
    describe_counter!(
        crate::events::nats::PUBLISHED,
        "Lifecycle events the NATS JetStream stream acked as new"
    );
    describe_counter!(
        crate::events::nats::DUPLICATES,
        "Lifecycle events the NATS JetStream stream acked as duplicates (published again)"
    );
    describe_counter!(
        crate::events::nats::FAILURES,
        "Failures of the NATS event sink (connect, stream, publish, ack); it retries"
    );
    describe_gauge!(
        crate::events::nats::HEALTHY,
        "1 while the NATS event sink's last attempt succeeded, 0 while it retries"
    );
    describe_gauge!(
        crate::events::nats::LAG,
        "Lifecycle events committed but not yet acked by the NATS stream"
    );
    describe_counter!(
        crate::usage::EVENTS_INGESTED,
        "Usage events received by outcome (accepted, duplicate, rejected)"
    );
    describe_gauge!(
        crate::usage::AGGREGATION_LAG,
        Unit::Seconds,
        "Age of the oldest usage event not yet folded into the daily rollups, as of the last aggregation run"
    );
    describe_histogram!(
        crate::tenancy::PROVISIONING_DURATION,
        Unit::Seconds,
        "Time a tenant's provisioning took, by outcome (succeeded, failed)"
    );
    describe_counter!(
        crate::tenancy::PROVISIONING_FAILURES,
        "Provisioning attempts that failed"
    );
    describe_counter!(
        super::bulkhead::BULKHEAD_REFUSALS,
        "Calls refused because their tenant had used its share of this replica"
    );
    // Unlabelled counters are exported from the start, at zero, so a
    // rate() over them never starts from a missing series.
    metrics::counter!(crate::tenancy::PROVISIONING_FAILURES).absolute(0);
    metrics::counter!(super::bulkhead::BULKHEAD_REFUSALS).absolute(0);
    for threshold in crate::usage::alerts::ALERT_THRESHOLDS {
        let threshold = threshold.to_string();
        metrics::counter!(crate::usage::alerts::ALLOWANCE_CROSSED, "threshold" => threshold)
            .absolute(0);
    }
}
