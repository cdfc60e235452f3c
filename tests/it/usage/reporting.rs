//! Who reports and reads usage: late events update their own day, service
//! tokens report for each named tenant, tenant keys report and read only
//! their own usage.

use chrono::{DateTime, TimeDelta, Utc};
use tenantd::pb;
use tonic::Code;

use super::{client, counts, create_metric, day, points, report};
use crate::support::fixtures::create;
use crate::support::server::{ADMIN_TOKEN, SERVICE_TOKEN};
use crate::support::status::assert_error;
use crate::support::usage::usage_event as event;
use crate::support::{Backend, TestServer};

async fn late_events_update_their_own_day(backend: Backend) {
    let server = TestServer::start(backend).await;
    let acme = create(&mut server.tenants(), "acme").await.name;
    let mut admin = client(&server, ADMIN_TOKEN);
    create_metric(&mut admin, "peak", pb::MetricAggregation::Max).await;
    create_metric(&mut admin, "held", pb::MetricAggregation::Latest).await;
    create_metric(&mut admin, "users", pb::MetricAggregation::UniqueCount).await;
    let now = Utc::now() - TimeDelta::seconds(1);
    let late = now - TimeDelta::days(3);
    let user = |id: &str, name: &str, at: DateTime<Utc>| {
        let mut made = event(id, &acme, "users", 0.0, at);
        made.dimensions.insert("user_id".into(), name.into());
        made
    };
    let today = vec![
        event("p1", &acme, "peak", 4.0, now),
        event("h1", &acme, "held", 8.0, now - TimeDelta::seconds(5)),
        event("h2", &acme, "held", 3.0, now),
        user("u1", "ann", now),
        user("u2", "bob", now),
        user("u3", "ann", now),
    ];
    assert_eq!(counts(&report(&mut admin, today).await), (6, 0, 0));
    let earlier = vec![
        event("p2", &acme, "peak", 9.0, late),
        event("p3", &acme, "peak", 2.0, late),
        event("h3", &acme, "held", 100.0, late),
        user("u4", "ann", late),
    ];
    assert_eq!(counts(&report(&mut admin, earlier).await), (4, 0, 0));
    let mut found = points(&server, &mut admin, &acme, late, pb::UsageGranularity::Day).await;
    found.sort_by(|left, right| (&left.0, &left.1).cmp(&(&right.0, &right.1)));
    assert_eq!(
        found,
        [
            ("held".to_owned(), day(late), 100.0, 1),
            ("held".to_owned(), day(now), 3.0, 2),
            ("peak".to_owned(), day(late), 9.0, 2),
            ("peak".to_owned(), day(now), 4.0, 1),
            ("users".to_owned(), day(late), 1.0, 1),
            ("users".to_owned(), day(now), 2.0, 3),
        ]
    );
    server.stop().await;
}

async fn service_tokens_report_for_each_named_tenant(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut tenants = server.tenants();
    let acme = create(&mut tenants, "acme").await.name;
    create(&mut tenants, "globex").await;
    let mut admin = client(&server, ADMIN_TOKEN);
    create_metric(&mut admin, "bytes", pb::MetricAggregation::Sum).await;
    let mut service = client(&server, SERVICE_TOKEN);
    let now = Utc::now() - TimeDelta::seconds(1);
    let globex = "tenants/slug:globex";
    let batch = vec![
        event("same-id", &acme, "bytes", 1.0, now),
        event("same-id", globex, "bytes", 20.0, now),
        event("other", globex, "bytes", 300.0, now),
        event("x", "tenants/slug:nobody", "bytes", 1.0, now),
        event("y", "", "bytes", 1.0, now),
    ];
    let answer = report(&mut service, batch).await;
    assert_eq!(counts(&answer), (3, 0, 2), "one event id per tenant");
    let reasons: Vec<pb::UsageRejectionReason> = answer
        .rejected_events
        .iter()
        .map(|rejected| rejected.reason())
        .collect();
    assert_eq!(
        reasons,
        [
            pb::UsageRejectionReason::TenantNotFound,
            pb::UsageRejectionReason::Invalid
        ]
    );
    let of_acme = points(&server, &mut admin, &acme, now, pb::UsageGranularity::Day).await;
    assert_eq!(of_acme, [("bytes".to_owned(), day(now), 1.0, 1)]);
    let of_globex = points(
        &server,
        &mut admin,
        globex,
        now,
        pb::UsageGranularity::Month,
    )
    .await;
    assert_eq!(of_globex.len(), 1);
    assert_eq!((of_globex[0].2, of_globex[0].3), (320.0, 2));
    server.stop().await;
}

async fn tenant_keys_report_and_read_only_their_own_usage(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut tenants = server.tenants();
    let acme = create(&mut tenants, "acme").await.name;
    let globex = create(&mut tenants, "globex").await.name;
    let mut admin = client(&server, ADMIN_TOKEN);
    create_metric(&mut admin, "bytes", pb::MetricAggregation::Sum).await;
    let now = Utc::now() - TimeDelta::seconds(1);
    report(&mut admin, vec![event("g1", &globex, "bytes", 5.0, now)]).await;
    let issued = tenants
        .create_api_key(pb::CreateApiKeyRequest {
            parent: acme.clone(),
            api_key: Some(pb::ApiKey {
                display_name: "meter".into(),
                scopes: vec!["usage:write".into(), "usage:read".into()],
                ..Default::default()
            }),
        })
        .await
        .expect("create key")
        .into_inner();
    let mut key = client(&server, &issued.secret);
    let batch = vec![
        event("k1", "", "bytes", 1.0, now),
        event("k2", &acme, "bytes", 2.0, now),
        event("k3", &globex, "bytes", 1000.0, now),
    ];
    let answer = report(&mut key, batch).await;
    assert_eq!(counts(&answer), (2, 0, 1));
    assert_eq!(
        answer.rejected_events[0].reason(),
        pb::UsageRejectionReason::TenantNotFound
    );
    let own = points(&server, &mut key, &acme, now, pb::UsageGranularity::Day).await;
    assert_eq!(own, [("bytes".to_owned(), day(now), 3.0, 2)]);
    let other = points(&server, &mut admin, &globex, now, pb::UsageGranularity::Day).await;
    assert_eq!(
        other,
        [("bytes".to_owned(), day(now), 5.0, 1)],
        "globex untouched"
    );
    let refused = key
        .query_usage(pb::QueryUsageRequest {
            parent: globex.clone(),
            start_day: day(now),
            end_day: day(now),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&refused, Code::PermissionDenied, "TENANT_MISMATCH");
    let catalogue_write = key
        .create_metric(pb::CreateMetricRequest::default())
        .await
        .unwrap_err();
    assert_eq!(catalogue_write.code(), Code::PermissionDenied);
    server.stop().await;
}

crate::backend_tests!(
    late_events_update_their_own_day,
    service_tokens_report_for_each_named_tenant,
    tenant_keys_report_and_read_only_their_own_usage,
);
