//! UsageService over real gRPC: the metric catalogue, ReportUsage and
//! StreamUsage (exact counts, duplicates however often re-sent, reasons for
//! rejected events), rollups read back through QueryUsage once aggregated, and the tenant
//! boundaries of reporting and reading.

mod reporting;

use chrono::{DateTime, TimeDelta, Utc};
use tenantd::pb;
use tenantd::pb::usage_service_client::UsageServiceClient;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::support::fixtures::{create, mask};
use crate::support::server::{ADMIN_TOKEN, Credentials, SERVICE_TOKEN};
use crate::support::status::{assert_error, invalid_fields};
pub(crate) use crate::support::usage::usage_event as event;
use crate::support::{Backend, TestServer};

pub(crate) type Client = UsageServiceClient<InterceptedService<Channel, Credentials>>;

pub(crate) fn client(server: &TestServer, token: &str) -> Client {
    UsageServiceClient::with_interceptor(server.channel.clone(), Credentials::bearer(token))
}

pub(crate) async fn create_metric(
    client: &mut Client,
    key: &str,
    aggregation: pb::MetricAggregation,
) -> pb::Metric {
    let unique_dimension = match aggregation {
        pb::MetricAggregation::UniqueCount => "user_id".to_owned(),
        _ => String::new(),
    };
    client
        .create_metric(pb::CreateMetricRequest {
            metric_id: key.to_owned(),
            metric: Some(pb::Metric {
                display_name: format!("{key} metric"),
                unit: "1".into(),
                aggregation: aggregation.into(),
                unique_dimension,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("create metric")
        .into_inner()
}

pub(crate) async fn report(
    client: &mut Client,
    events: Vec<pb::UsageEvent>,
) -> pb::ReportUsageResponse {
    client
        .report_usage(pb::ReportUsageRequest { events })
        .await
        .expect("report usage")
        .into_inner()
}

fn counts(answer: &pb::ReportUsageResponse) -> (i32, i32, i32) {
    (
        answer.accepted_count,
        answer.duplicate_count,
        answer.rejected_count,
    )
}

pub(crate) fn day(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

/// (metric, start day, value, event count) of every point.
async fn points(
    server: &TestServer,
    client: &mut Client,
    tenant: &str,
    from: DateTime<Utc>,
    granularity: pb::UsageGranularity,
) -> Vec<(String, String, f64, i64)> {
    crate::support::usage::wait_for_aggregation(&server.database_url).await;
    let answer = client
        .query_usage(pb::QueryUsageRequest {
            parent: tenant.to_owned(),
            metrics: Vec::new(),
            start_day: day(from),
            end_day: day(Utc::now() + TimeDelta::days(1)),
            granularity: granularity.into(),
        })
        .await
        .expect("query usage")
        .into_inner();
    crate::support::usage::series_points(&answer)
}

async fn catalogue_is_validated_and_guarded_by_etags(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = client(&server, ADMIN_TOKEN);
    let created = create_metric(&mut admin, "api_calls", pb::MetricAggregation::Count).await;
    assert_eq!(created.name, "metrics/api_calls");
    assert!(!created.etag.is_empty());

    let invalid = admin
        .create_metric(pb::CreateMetricRequest {
            metric_id: "Bad Key".into(),
            metric: Some(pb::Metric {
                aggregation: pb::MetricAggregation::UniqueCount.into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    let mut fields = invalid_fields(&invalid);
    fields.sort();
    assert_eq!(
        fields,
        ["metric.unique_dimension", "metric.unit", "metric_id"]
    );

    let again = admin
        .create_metric(pb::CreateMetricRequest {
            metric_id: "api_calls".into(),
            metric: Some(created.clone()),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_error(&again, Code::AlreadyExists, "METRIC_ALREADY_EXISTS");

    let fetched = admin
        .get_metric(pb::GetMetricRequest {
            name: "metrics/api_calls".into(),
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(fetched, created);
    let missing = admin
        .get_metric(pb::GetMetricRequest {
            name: "metrics/nope".into(),
        })
        .await
        .unwrap_err();
    assert_error(&missing, Code::NotFound, "METRIC_NOT_FOUND");

    let updated = admin
        .update_metric(pb::UpdateMetricRequest {
            metric: Some(pb::Metric {
                display_name: "API calls".into(),
                ..created.clone()
            }),
            update_mask: mask(&["display_name"]),
        })
        .await
        .expect("update")
        .into_inner();
    assert_eq!(updated.display_name, "API calls");
    assert_ne!(updated.etag, created.etag);
    let stale = admin
        .update_metric(pb::UpdateMetricRequest {
            metric: Some(created.clone()),
            update_mask: mask(&["unit"]),
        })
        .await
        .unwrap_err();
    assert_error(&stale, Code::Aborted, "ETAG_MISMATCH");
    let immutable = admin
        .update_metric(pb::UpdateMetricRequest {
            metric: Some(updated.clone()),
            update_mask: mask(&["aggregation"]),
        })
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&immutable), ["update_mask"]);

    create_metric(&mut admin, "bytes", pb::MetricAggregation::Sum).await;
    let page = admin
        .list_metrics(pb::ListMetricsRequest {
            page_size: 1,
            page_token: String::new(),
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(page.metrics[0].key, "api_calls");
    let rest = admin
        .list_metrics(pb::ListMetricsRequest {
            page_size: 1,
            page_token: page.next_page_token,
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(rest.metrics[0].key, "bytes");
    server.stop().await;
}

async fn batches_count_each_event_once_with_reasons(backend: Backend) {
    let server = TestServer::start(backend).await;
    let acme = create(&mut server.tenants(), "acme").await.name;
    let mut admin = client(&server, ADMIN_TOKEN);
    create_metric(&mut admin, "bytes", pb::MetricAggregation::Sum).await;
    let mut service = client(&server, SERVICE_TOKEN);
    let now = Utc::now() - TimeDelta::seconds(1);
    let batch = vec![
        event("e1", &acme, "bytes", 10.0, now),
        event("e2", &acme, "bytes", 5.0, now),
        event("e1", &acme, "bytes", 99.0, now),
        event("e3", &acme, "nope", 1.0, now),
        event("e4", &acme, "bytes", 1.0, now - TimeDelta::days(10)),
        event("e5", &acme, "bytes", 1.0, now + TimeDelta::hours(1)),
        event("e6", &acme, "bytes", -1.0, now),
    ];
    let answer = report(&mut service, batch.clone()).await;
    assert_eq!(counts(&answer), (2, 1, 4));
    let reasons: Vec<(i32, String, pb::UsageRejectionReason)> = answer
        .rejected_events
        .iter()
        .map(|rejected| (rejected.index, rejected.event_id.clone(), rejected.reason()))
        .collect();
    assert_eq!(
        reasons,
        [
            (3, "e3".to_owned(), pb::UsageRejectionReason::UnknownMetric),
            (4, "e4".to_owned(), pb::UsageRejectionReason::TooOld),
            (5, "e5".to_owned(), pb::UsageRejectionReason::TooFarInFuture),
            (6, "e6".to_owned(), pb::UsageRejectionReason::Invalid),
        ]
    );

    // The whole batch again counts nothing twice; a new event still lands.
    assert_eq!(counts(&report(&mut service, batch).await), (0, 3, 4));
    let more = vec![
        event("e1", &acme, "bytes", 7.0, now),
        event("e7", &acme, "bytes", 2.0, now),
    ];
    assert_eq!(counts(&report(&mut service, more).await), (1, 1, 0));

    let found = points(&server, &mut admin, &acme, now, pb::UsageGranularity::Day).await;
    assert_eq!(found, [("bytes".to_owned(), day(now), 17.0, 3)]);

    let empty = service
        .report_usage(pb::ReportUsageRequest { events: Vec::new() })
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&empty), ["events"]);
    let too_many: Vec<pb::UsageEvent> = (0..1001)
        .map(|index| event(&format!("x{index}"), &acme, "bytes", 1.0, now))
        .collect();
    let status = service
        .report_usage(pb::ReportUsageRequest { events: too_many })
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&status), ["events"]);
    server.stop().await;
}

async fn stream_acks_in_order_and_resent_batches_are_duplicates(backend: Backend) {
    let server = TestServer::start(backend).await;
    let acme = create(&mut server.tenants(), "acme").await.name;
    let mut admin = client(&server, ADMIN_TOKEN);
    create_metric(&mut admin, "calls", pb::MetricAggregation::Count).await;
    let mut service = client(&server, SERVICE_TOKEN);
    let now = Utc::now() - TimeDelta::seconds(1);
    let batches: Vec<pb::StreamUsageRequest> = (1..=4)
        .map(|sequence| pb::StreamUsageRequest {
            sequence: sequence * 10,
            events: (0..50)
                .map(|index| event(&format!("b{sequence}-{index}"), &acme, "calls", 1.0, now))
                .collect(),
        })
        .collect();
    let acks = stream(&mut service, batches.clone()).await;
    let seen: Vec<(i64, i32, i32, i32)> = acks
        .iter()
        .map(|ack| {
            (
                ack.sequence,
                ack.accepted_count,
                ack.duplicate_count,
                ack.rejected_count,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (10, 50, 0, 0),
            (20, 50, 0, 0),
            (30, 50, 0, 0),
            (40, 50, 0, 0)
        ]
    );
    let before = points(&server, &mut admin, &acme, now, pb::UsageGranularity::Day).await;
    assert_eq!(before, [("calls".to_owned(), day(now), 200.0, 200)]);

    // A reporter recovering on a new stream re-sends batches already acked.
    let resent = stream(&mut service, batches[2..].to_vec()).await;
    let seen: Vec<(i64, i32, i32)> = resent
        .iter()
        .map(|ack| (ack.sequence, ack.accepted_count, ack.duplicate_count))
        .collect();
    assert_eq!(seen, [(30, 0, 50), (40, 0, 50)]);
    assert_eq!(
        points(&server, &mut admin, &acme, now, pb::UsageGranularity::Day).await,
        before
    );
    server.stop().await;
}

async fn stream(
    client: &mut Client,
    batches: Vec<pb::StreamUsageRequest>,
) -> Vec<pb::StreamUsageResponse> {
    let expected = batches.len();
    let mut acks = client
        .stream_usage(tokio_stream::iter(batches))
        .await
        .expect("open stream")
        .into_inner();
    let mut received = Vec::new();
    while let Some(ack) = acks.message().await.expect("ack") {
        received.push(ack);
    }
    assert_eq!(received.len(), expected, "one ack per batch");
    received
}

crate::backend_tests!(
    catalogue_is_validated_and_guarded_by_etags,
    batches_count_each_event_once_with_reasons,
    stream_acks_in_order_and_resent_batches_are_duplicates,
);
