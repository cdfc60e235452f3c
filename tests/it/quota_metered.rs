//! PERIODIC quotas counting a usage metric: their usage is what
//! UsageService aggregated for the period, checks never add to it, an
//! all-or-nothing call refused by one charges nothing elsewhere, and plans
//! may name only metrics of the catalogue.

use std::time::{Duration, Instant};

use chrono::Utc;
use tenantd::pb;
use tonic::Code;
use tonic_types::StatusExt;

use crate::quota::{allocate, definition, quotas, tenant_on_plan, used};
use crate::support::server::{ADMIN_TOKEN, SERVICE_TOKEN};
use crate::support::status::{assert_error, invalid_fields};
use crate::support::{Backend, TestServer};
use crate::usage::{client, create_metric, event, report};

fn metered(key: &str, metric: &str, limit: i64) -> pb::QuotaDefinition {
    pb::QuotaDefinition {
        period: pb::QuotaPeriod::Month.into(),
        usage_metric: metric.to_owned(),
        ..definition(key, pb::QuotaKind::Periodic, limit)
    }
}

fn daily(key: &str, limit: i64) -> pb::QuotaDefinition {
    pb::QuotaDefinition {
        period: pb::QuotaPeriod::Day.into(),
        ..definition(key, pb::QuotaKind::Periodic, limit)
    }
}

async fn metered_quotas_follow_reported_usage(backend: Backend) {
    let server = TestServer::start(backend).await;
    create_metric(
        &mut client(&server, ADMIN_TOKEN),
        "emails.sent",
        pb::MetricAggregation::Sum,
    )
    .await;
    let parent = tenant_on_plan(
        &server,
        "mailer",
        vec![
            metered("emails_monthly", "emails.sent", 100),
            daily("exports", 10),
        ],
    )
    .await;
    let mut reporter = client(&server, SERVICE_TOKEN);
    let now = Utc::now();
    let batch = vec![
        event("e1", &parent, "emails.sent", 50.0, now),
        event("e2", &parent, "emails.sent", 39.5, now),
    ];
    assert_eq!(report(&mut reporter, batch).await.accepted_count, 2);
    let mut admin = quotas(&server);
    // Fractions count as a whole unit.
    let deadline = Instant::now() + Duration::from_secs(20);
    while used(&mut admin, &parent, "emails_monthly").await != 90 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(used(&mut admin, &parent, "emails_monthly").await, 90);

    // A check that fits is allowed and adds nothing: only reports do.
    let pairs = [("emails_monthly", 10), ("exports", 1)];
    let answer = allocate(&mut admin, &parent, &pairs, pb::QuotaMode::AllOrNothing, "")
        .await
        .expect("fits");
    assert!(answer.results.iter().all(|result| result.allowed));
    assert_eq!(used(&mut admin, &parent, "emails_monthly").await, 90);
    assert_eq!(used(&mut admin, &parent, "exports").await, 1);

    // One that does not fit refuses the call and charges nothing else.
    let pairs = [("emails_monthly", 11), ("exports", 1)];
    let status = allocate(&mut admin, &parent, &pairs, pb::QuotaMode::AllOrNothing, "")
        .await
        .unwrap_err();
    assert_error(&status, Code::ResourceExhausted, "QUOTA_EXCEEDED");
    let failure = status.get_details_quota_failure().expect("QuotaFailure");
    assert_eq!(failure.violations.len(), 1);
    assert_eq!(failure.violations[0].subject, parent);
    assert_eq!(failure.violations[0].quota_metric, "emails.sent");
    assert!(
        status.get_details_retry_info().is_some(),
        "the next month frees it"
    );
    assert_eq!(used(&mut admin, &parent, "exports").await, 1);

    // Usage reported later is seen.
    let batch = vec![event("e3", &parent, "emails.sent", 10.0, now)];
    report(&mut reporter, batch).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while used(&mut admin, &parent, "emails_monthly").await != 100 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pairs = [("emails_monthly", 1)];
    let status = allocate(&mut admin, &parent, &pairs, pb::QuotaMode::AllOrNothing, "")
        .await
        .unwrap_err();
    assert_error(&status, Code::ResourceExhausted, "QUOTA_EXCEEDED");
    // Usage comes from reports only: ADJUST cannot correct it.
    let status = allocate(&mut admin, &parent, &pairs, pb::QuotaMode::Adjust, "")
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&status), ["mode"]);
    server.stop().await;
}

async fn plans_name_only_metrics_of_the_catalogue(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = quotas(&server);
    let create = |quota: pb::QuotaDefinition| pb::CreatePlanRequest {
        plan_id: "metered".to_owned(),
        plan: Some(pb::Plan {
            display_name: "Metered".to_owned(),
            quotas: vec![quota],
            ..Default::default()
        }),
        request_id: String::new(),
    };
    let status = admin
        .create_plan(create(metered("calls", "no.such.metric", 5)))
        .await
        .unwrap_err();
    assert_error(&status, Code::FailedPrecondition, "METRIC_NOT_FOUND");
    let rate = pb::QuotaDefinition {
        usage_metric: "calls".to_owned(),
        period: pb::QuotaPeriod::Second.into(),
        ..definition("calls", pb::QuotaKind::Rate, 5)
    };
    let status = admin.create_plan(create(rate)).await.unwrap_err();
    assert_eq!(invalid_fields(&status), ["plan.quotas[0].usage_metric"]);
    create_metric(
        &mut client(&server, ADMIN_TOKEN),
        "api.calls",
        pb::MetricAggregation::Count,
    )
    .await;
    let plan = admin
        .create_plan(create(metered("calls", "api.calls", 5)))
        .await
        .expect("a metric of the catalogue")
        .into_inner();
    assert_eq!(plan.quotas[0].usage_metric, "api.calls");
    server.stop().await;
}

crate::backend_tests!(
    metered_quotas_follow_reported_usage,
    plans_name_only_metrics_of_the_catalogue,
);
