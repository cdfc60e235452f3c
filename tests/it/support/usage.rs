//! Waiting for usage aggregation: rollups follow ingestion by up to one
//! aggregation interval, so tests that read rollups first wait until every
//! event acknowledged so far is aggregated, as the server reports it.

use std::time::Duration;

use chrono::Utc;
use tenantd::store::scope::Scope;
use tenantd::store::{PoolOptions, Store};

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

/// A usage event with no dimensions.
pub fn usage_event(
    id: &str,
    tenant: &str,
    metric: &str,
    quantity: f64,
    at: chrono::DateTime<Utc>,
) -> tenantd::pb::UsageEvent {
    tenantd::pb::UsageEvent {
        event_id: id.to_owned(),
        tenant: tenant.to_owned(),
        metric: metric.to_owned(),
        quantity,
        occurred_time: Some(prost_types::Timestamp {
            seconds: at.timestamp(),
            nanos: 0,
        }),
        dimensions: Default::default(),
    }
}

/// Creates `metrics` as (key, aggregation, unique dimension) through the
/// server behind `channel`, as the operator.
pub async fn create_metrics(
    channel: &tonic::transport::Channel,
    metrics: &[(&str, tenantd::pb::MetricAggregation, &str)],
) {
    use tenantd::pb;
    let mut admin = pb::usage_service_client::UsageServiceClient::with_interceptor(
        channel.clone(),
        super::server::Credentials::bearer(super::server::ADMIN_TOKEN),
    );
    for (key, aggregation, unique) in metrics {
        admin
            .create_metric(pb::CreateMetricRequest {
                metric_id: (*key).to_owned(),
                metric: Some(pb::Metric {
                    unit: "1".into(),
                    aggregation: (*aggregation).into(),
                    unique_dimension: (*unique).to_owned(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .expect("create metric");
    }
}

/// (metric, day, value, event count) of every day point of `tenant` over
/// `days` (inclusive, `YYYY-MM-DD`), as QueryUsage answers the operator.
pub async fn day_points(
    channel: &tonic::transport::Channel,
    tenant: &str,
    (start_day, end_day): (String, String),
) -> Vec<(String, String, f64, i64)> {
    use tenantd::pb;
    let mut admin = pb::usage_service_client::UsageServiceClient::with_interceptor(
        channel.clone(),
        super::server::Credentials::bearer(super::server::ADMIN_TOKEN),
    );
    let answer = admin
        .query_usage(pb::QueryUsageRequest {
            parent: tenant.to_owned(),
            metrics: Vec::new(),
            start_day,
            end_day,
            granularity: pb::UsageGranularity::Day.into(),
        })
        .await
        .expect("query usage")
        .into_inner();
    series_points(&answer)
}

/// (metric, start day, value, event count) of every point of a QueryUsage
/// answer, series by series.
pub fn series_points(answer: &tenantd::pb::QueryUsageResponse) -> Vec<(String, String, f64, i64)> {
    answer
        .series
        .iter()
        .flat_map(|series| {
            series.points.iter().map(|point| {
                let day = point.start_day.clone();
                (series.metric.clone(), day, point.value, point.event_count)
            })
        })
        .collect()
}
