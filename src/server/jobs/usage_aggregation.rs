//! The usage aggregation job: every interval, folds newly committed events
//! into the daily rollups (see `domain::usage_rollups`), and once an hour
//! deletes raw events past their retention.
//!
//! A failed step is logged and retried at the next tick: the watermark
//! moves only with the rollups, so nothing is lost or counted twice.

use std::time::Duration;

use chrono::Utc;
use tokio::task::JoinHandle;

use crate::error::error_chain;
use crate::usage::rollups::Rollups;

/// How often raw events past their retention are looked for.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Runs the job every `interval` until aborted.
pub fn spawn(rollups: Rollups, interval: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_purge: Option<tokio::time::Instant> = None;
        loop {
            ticks.tick().await;
            step(&rollups).await;
            record_lag(&rollups).await;
            if last_purge.is_none_or(|at| at.elapsed() >= PURGE_EVERY) {
                last_purge = Some(tokio::time::Instant::now());
                purge(&rollups).await;
            }
        }
    })
}

async fn step(rollups: &Rollups) {
    match rollups.catch_up().await {
        Ok(Some(events)) => {
            metrics::counter!("tenantd_usage_aggregation_runs_total", "outcome" => "folded")
                .increment(1);
            metrics::counter!("tenantd_usage_events_aggregated_total").increment(events as u64);
            if events > 0 {
                tracing::debug!(events, "usage events aggregated");
            }
        }
        Ok(None) => {
            metrics::counter!("tenantd_usage_aggregation_runs_total", "outcome" => "locked")
                .increment(1);
            tracing::trace!("usage aggregation runs on another replica");
        }
        Err(error) => {
            metrics::counter!("tenantd_usage_aggregation_runs_total", "outcome" => "failed")
                .increment(1);
            tracing::warn!(error = %error_chain(&error), "usage aggregation failed; retrying at the next tick");
        }
    }
}

/// Sets the aggregation lag gauge: how long ago the newest moment before
/// which every acknowledged event is in the rollups was, on whichever
/// replica folds. Unset until the first fold that caught up.
async fn record_lag(rollups: &Rollups) {
    match rollups.progress().await {
        Ok(progress) => {
            if let Some(through) = progress.aggregated_through {
                let lag = (Utc::now() - through).num_milliseconds().max(0);
                metrics::gauge!(crate::usage::AGGREGATION_LAG).set(lag as f64 / 1000.0);
            }
        }
        Err(error) => {
            tracing::debug!(error = %error_chain(&error), "reading the aggregation progress failed");
        }
    }
}

async fn purge(rollups: &Rollups) {
    match rollups.purge(Utc::now()).await {
        Ok(0) => {}
        Ok(deleted) => tracing::info!(deleted, "raw usage events past their retention deleted"),
        Err(error) => {
            tracing::warn!(error = %error_chain(&error), "deleting old usage events failed");
        }
    }
}
