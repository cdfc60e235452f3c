//! Hostile usage events, sent with a tenant's own API key over real gRPC:
//! one event the database cannot store (a NUL byte in any of its strings),
//! a quantity that would overflow a rollup, or an event beyond a bound is
//! rejected alone, as INVALID with a message naming its field, while the
//! rest of its batch lands and is acknowledged, through ReportUsage and
//! StreamUsage alike, and another tenant's usage stays as it was.

use chrono::{DateTime, TimeDelta, Utc};
use tenantd::pb;

use crate::support::fixtures::create;
use crate::support::server::{ADMIN_TOKEN, SERVICE_TOKEN};
use crate::support::status::invalid_fields;
use crate::support::usage::{day_points, wait_for_aggregation};
use crate::support::{Backend, TestServer};
use crate::usage::{Client, client, create_metric, day, event, report};

/// Events per batch: the repro's 499 good ones and one bad one.
const BATCH: usize = 500;

/// (index, reason, message) of every rejection.
type Rejections = Vec<(i32, pb::UsageRejectionReason, String)>;

fn rejections(rejected: &[pb::RejectedUsageEvent]) -> Rejections {
    rejected
        .iter()
        .map(|event| (event.index, event.reason(), event.message.clone()))
        .collect()
}

fn invalid(index: i32, message: &str) -> (i32, pb::UsageRejectionReason, String) {
    (index, pb::UsageRejectionReason::Invalid, message.to_owned())
}

/// A batch of `calls` events for the key's own tenant, ids `{prefix}-{n}`.
fn batch(prefix: &str, at: DateTime<Utc>) -> Vec<pb::UsageEvent> {
    (0..BATCH)
        .map(|index| {
            let mut made = event(&format!("{prefix}-{index}"), "", "calls", 1.0, at);
            made.dimensions.insert("region".into(), "eu-west".into());
            made
        })
        .collect()
}

/// A client holding a `usage:write` API key of `tenant`.
async fn tenant_client(server: &TestServer, tenant: &str) -> Client {
    let secret = server
        .tenants()
        .create_api_key(pb::CreateApiKeyRequest {
            parent: tenant.to_owned(),
            api_key: Some(pb::ApiKey {
                display_name: "hostile reporter".into(),
                scopes: vec!["usage:write".into()],
                ..Default::default()
            }),
        })
        .await
        .expect("create API key")
        .into_inner()
        .secret;
    client(server, &secret)
}

/// Every day point of `tenant` around `at`, once aggregation caught up.
async fn points_of(
    server: &TestServer,
    tenant: &str,
    at: DateTime<Utc>,
) -> Vec<(String, String, f64, i64)> {
    wait_for_aggregation(&server.database_url).await;
    let days = (day(at - TimeDelta::days(1)), day(at + TimeDelta::days(1)));
    day_points(&server.channel, tenant, days).await
}

/// Two tenants and a SUM metric; the other tenant has usage of its own.
/// Answers (hostile tenant, other tenant, the other's points, a time).
async fn setup(server: &TestServer) -> (String, String, Vec<(String, String, f64, i64)>) {
    let mut tenants = server.tenants();
    let hostile = create(&mut tenants, "hostile").await.name;
    let other = create(&mut tenants, "bystander").await.name;
    create_metric(
        &mut client(server, ADMIN_TOKEN),
        "calls",
        pb::MetricAggregation::Sum,
    )
    .await;
    let now = Utc::now() - TimeDelta::seconds(1);
    let theirs = vec![
        event("b1", &other, "calls", 2.0, now),
        event("b2", &other, "calls", 3.0, now),
    ];
    let answer = report(&mut client(server, SERVICE_TOKEN), theirs).await;
    assert_eq!(answer.accepted_count, 2);
    let before = points_of(server, &other, now).await;
    assert_eq!(before, [("calls".to_owned(), day(now), 5.0, 2)]);
    (hostile, other, before)
}

async fn one_unstorable_event_is_rejected_and_its_batch_lands(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (hostile, other, theirs) = setup(&server).await;
    let mut reporter = tenant_client(&server, &hostile).await;
    let now = Utc::now() - TimeDelta::seconds(1);

    // ReportUsage: a NUL in one dimension value among 499 good events.
    let mut events = batch("r", now);
    events[3]
        .dimensions
        .insert("region".into(), "eu\0west".into());
    let answer = report(&mut reporter, events).await;
    assert_eq!(
        (answer.accepted_count, answer.rejected_count),
        (499, 1),
        "{:?}",
        answer.rejected_events
    );
    assert_eq!(
        rejections(&answer.rejected_events),
        [invalid(
            3,
            r#"events[3].dimensions["region"]: must not contain NUL"#
        )]
    );

    // StreamUsage: a NUL in the metric, the tenant, the event id or a
    // dimension key; every batch is acked and the stream ends cleanly.
    let mut first = batch("s1", now);
    first[7].metric = "cal\0ls".into();
    first[9].tenant = "tenants/slug:host\0ile".into();
    let mut second = batch("s2", now);
    second[0].event_id = "s2-\0".into();
    second[499].dimensions.insert("zo\0ne".into(), "x".into());
    let requests = vec![
        pb::StreamUsageRequest {
            sequence: 1,
            events: first,
        },
        pb::StreamUsageRequest {
            sequence: 2,
            events: second,
        },
    ];
    let mut acks = reporter
        .stream_usage(tokio_stream::iter(requests))
        .await
        .expect("open stream")
        .into_inner();
    let mut received = Vec::new();
    while let Some(ack) = acks.message().await.expect("the stream ends cleanly") {
        received.push(ack);
    }
    let counts: Vec<(i64, i32, i32)> = received
        .iter()
        .map(|ack| (ack.sequence, ack.accepted_count, ack.rejected_count))
        .collect();
    assert_eq!(counts, [(1, 498, 2), (2, 498, 2)]);
    assert_eq!(
        rejections(&received[0].rejected_events),
        [
            invalid(7, "events[7].metric: must not contain NUL"),
            invalid(9, "events[9].tenant: must not contain NUL"),
        ]
    );
    assert_eq!(
        rejections(&received[1].rejected_events),
        [
            invalid(0, "events[0].event_id: must not contain NUL"),
            invalid(
                499,
                r#"events[499].dimensions["zo\0ne"]: must not contain NUL"#
            ),
        ]
    );

    // Every good event landed; the other tenant's usage is unchanged.
    let landed = f64::from(499 + 498 + 498);
    assert_eq!(
        points_of(&server, &hostile, now).await,
        [("calls".to_owned(), day(now), landed, 1495)]
    );
    assert_eq!(points_of(&server, &other, now).await, theirs);
    server.stop().await;
}

async fn quantities_that_would_overflow_a_rollup_are_rejected(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (hostile, other, theirs) = setup(&server).await;
    let mut reporter = tenant_client(&server, &hostile).await;
    let now = Utc::now() - TimeDelta::seconds(1);
    let quantities = [
        1.7e308,
        1.7e308,
        1.7e308,
        f64::INFINITY,
        f64::NAN,
        1.5e18,
        1e18,
        2.5,
    ];
    let events = quantities
        .iter()
        .enumerate()
        .map(|(index, quantity)| event(&format!("q{index}"), "", "calls", *quantity, now))
        .collect();
    let answer = report(&mut reporter, events).await;
    assert_eq!(answer.accepted_count, 2, "{:?}", answer.rejected_events);
    let refused = rejections(&answer.rejected_events);
    let indexes: Vec<i32> = refused.iter().map(|(index, ..)| *index).collect();
    assert_eq!(indexes, [0, 1, 2, 3, 4, 5]);
    for (index, reason, message) in &refused {
        assert_eq!(*reason, pb::UsageRejectionReason::Invalid);
        let field =
            format!("events[{index}].quantity: must be finite, not negative and at most 1e18");
        assert!(message.starts_with(&field), "{message}");
    }

    // The rollup is finite and exact, in QueryUsage and ExportUsage.
    let expected = 1e18 + 2.5;
    assert_eq!(
        points_of(&server, &hostile, now).await,
        [("calls".to_owned(), day(now), expected, 2)]
    );
    let mut admin = client(&server, ADMIN_TOKEN);
    let mut chunks = admin
        .export_usage(pb::ExportUsageRequest {
            tenants: vec![hostile.clone()],
            start_day: day(now),
            end_day: day(now),
            ..Default::default()
        })
        .await
        .expect("export")
        .into_inner();
    let mut values = Vec::new();
    while let Some(chunk) = chunks.message().await.expect("chunk") {
        values.extend(chunk.rollups.iter().map(|rollup| rollup.value));
    }
    assert_eq!(values, [expected]);
    assert_eq!(points_of(&server, &other, now).await, theirs);
    server.stop().await;
}

async fn every_bound_of_an_event_names_its_field(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (hostile, other, theirs) = setup(&server).await;
    let mut reporter = tenant_client(&server, &hostile).await;
    let now = Utc::now() - TimeDelta::seconds(1);
    let good = |id: &str| event(id, "", "calls", 1.0, now);
    let mut events = vec![good("ok-1")];
    let mut long_id = good("x");
    long_id.event_id = "x".repeat(129);
    events.push(long_id);
    let mut long_metric = good("long-metric");
    long_metric.metric = "m".repeat(1 << 16);
    events.push(long_metric);
    let mut long_tenant = good("long-tenant");
    long_tenant.tenant = format!("tenants/slug:{}", "a".repeat(1 << 16));
    events.push(long_tenant);
    let mut many = good("many-dimensions");
    for index in 0..17 {
        many.dimensions.insert(format!("d{index}"), "v".into());
    }
    events.push(many);
    let mut long_value = good("long-value");
    long_value
        .dimensions
        .insert("region".into(), "é".repeat(257));
    events.push(long_value);
    events.push(good("ok-2"));
    let answer = report(&mut reporter, events).await;
    assert_eq!(answer.accepted_count, 2, "{:?}", answer.rejected_events);
    let refused = rejections(&answer.rejected_events);
    let fields: Vec<(i32, String)> = refused
        .iter()
        .map(|(index, reason, message)| {
            assert_eq!(*reason, pb::UsageRejectionReason::Invalid, "{message}");
            let field = message.split(": ").next().unwrap_or_default();
            (*index, field.to_owned())
        })
        .collect();
    assert_eq!(
        fields,
        [
            (1, "events[1].event_id".to_owned()),
            (2, "events[2].metric".to_owned()),
            (3, "events[3].tenant".to_owned()),
            (4, "events[4].dimensions".to_owned()),
            (5, r#"events[5].dimensions["region"]"#.to_owned()),
        ]
    );
    assert!(refused[0].2.contains("128"), "{:?}", refused[0]);
    assert!(refused[2].2.contains("145"), "{:?}", refused[2]);
    assert!(refused[3].2.contains("16"), "{:?}", refused[3]);
    assert!(refused[4].2.contains("256"), "{:?}", refused[4]);
    assert_eq!(
        points_of(&server, &hostile, now).await,
        [("calls".to_owned(), day(now), 2.0, 2)]
    );
    assert_eq!(points_of(&server, &other, now).await, theirs);
    server.stop().await;
}

async fn metric_text_with_nul_names_its_field(backend: Backend) {
    let server = TestServer::start(backend).await;
    let status = client(&server, ADMIN_TOKEN)
        .create_metric(pb::CreateMetricRequest {
            metric_id: "calls".to_owned(),
            metric: Some(pb::Metric {
                unit: "1".into(),
                description: "line one\nline\0two".into(),
                aggregation: pb::MetricAggregation::Sum.into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&status), ["metric.description"]);
    server.stop().await;
}

crate::backend_tests!(
    metric_text_with_nul_names_its_field,
    one_unstorable_event_is_rejected_and_its_batch_lands,
    quantities_that_would_overflow_a_rollup_are_rejected,
    every_bound_of_an_event_names_its_field,
);
