//! Usage alerts over real gRPC: reported usage reaching 80 % and 100 % of
//! a plan allowance (a PERIODIC quota counting the metric) writes one
//! `UsageAllowanceCrossed` audit event per threshold and period, however
//! much more is reported.

use std::time::{Duration, Instant};

use chrono::Utc;
use tenantd::pb;

use crate::quota::{definition, quotas, tenant_on_plan, used};
use crate::support::server::{ADMIN_TOKEN, SERVICE_TOKEN};
use crate::support::{Backend, TestServer};
use crate::usage::{client, create_metric, event, report};

const WAIT: Duration = Duration::from_secs(20);

/// The thresholds announced for `parent`, oldest first.
async fn announced(server: &TestServer, parent: &str) -> Vec<f64> {
    let events = server
        .tenants()
        .list_audit_events(pb::ListAuditEventsRequest {
            parent: parent.to_owned(),
            filter: "action = \"UsageAllowanceCrossed\"".to_owned(),
            ..Default::default()
        })
        .await
        .expect("audit events")
        .into_inner()
        .audit_events;
    let mut thresholds: Vec<f64> = events
        .iter()
        .map(|event| {
            assert_eq!(event.actor, "system:usage-alerts");
            let after = event.after.as_ref().expect("after");
            match after
                .fields
                .get("threshold_percent")
                .and_then(|value| value.kind.clone())
            {
                Some(prost_types::value::Kind::NumberValue(percent)) => percent,
                other => panic!("threshold_percent: {other:?}"),
            }
        })
        .collect();
    thresholds.reverse();
    thresholds
}

async fn until_announced(server: &TestServer, parent: &str, expected: &[f64]) -> Vec<f64> {
    let deadline = Instant::now() + WAIT;
    loop {
        let seen = announced(server, parent).await;
        if seen == expected || Instant::now() > deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn allowances_are_announced_once_per_threshold(backend: Backend) {
    let server = TestServer::start(backend).await;
    create_metric(
        &mut client(&server, ADMIN_TOKEN),
        "emails.sent",
        pb::MetricAggregation::Sum,
    )
    .await;
    let allowance = pb::QuotaDefinition {
        period: pb::QuotaPeriod::Month.into(),
        usage_metric: "emails.sent".to_owned(),
        ..definition("emails_monthly", pb::QuotaKind::Periodic, 100)
    };
    let parent = tenant_on_plan(&server, "alerted", vec![allowance]).await;
    let mut reporter = client(&server, SERVICE_TOKEN);
    let now = Utc::now();
    report(
        &mut reporter,
        vec![event("a", &parent, "emails.sent", 85.0, now)],
    )
    .await;
    assert_eq!(until_announced(&server, &parent, &[80.0]).await, [80.0]);
    report(
        &mut reporter,
        vec![event("b", &parent, "emails.sent", 20.0, now)],
    )
    .await;
    assert_eq!(
        until_announced(&server, &parent, &[80.0, 100.0]).await,
        [80.0, 100.0]
    );
    // More usage, evaluated again: nothing new this period.
    report(
        &mut reporter,
        vec![event("c", &parent, "emails.sent", 30.0, now)],
    )
    .await;
    let mut admin = quotas(&server);
    let deadline = Instant::now() + WAIT;
    while used(&mut admin, &parent, "emails_monthly").await != 135 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(announced(&server, &parent).await, [80.0, 100.0]);
    server.stop().await;
}

crate::backend_tests!(allowances_are_announced_once_per_threshold);
