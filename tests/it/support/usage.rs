//! Waiting for usage aggregation: rollups follow ingestion by up to one
//! aggregation interval, so tests that read rollups first wait until every
//! event acknowledged so far is aggregated, as the server reports it.

use std::time::Duration;

use chrono::Utc;
use tenantd::domain::context::Scope;
use tenantd::storage::{PoolOptions, Store};

/// Waits until aggregation reached past now: every event acknowledged
/// before the call is in the rollups.
pub async fn wait_for_aggregation(database_url: &str) {
    let since = Utc::now();
    let store = Store::connect(database_url, &PoolOptions::default())
        .await
        .expect("connect to the test database");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let progress = store
            .usage_aggregation_progress(Scope::Platform)
            .await
            .expect("read the aggregation progress");
        if progress
            .aggregated_through
            .is_some_and(|through| through > since)
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "aggregation did not catch up within a minute: {progress:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let _ = store.close().await;
}
