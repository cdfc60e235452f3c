//! UsageService's billing reads over real gRPC: GetUsageSummary against
//! the plan (included, used, overage, unlimited, overrides), ExportUsage
//! in chunks with resume tokens, and `tenantd usage export --format csv`
//! answering the same rollups.

mod export;

use std::time::{Duration, Instant};

use chrono::{Datelike, Utc};
use tenantd::pb;
use tonic::Code;

use crate::quota::{definition, quotas, tenant_on_plan};
use crate::support::server::{ADMIN_TOKEN, SERVICE_TOKEN};
use crate::support::status::invalid_fields;
use crate::support::{Backend, TestServer};
use crate::usage::{Client, client, create_metric, event, report};

/// How long reported usage may take to reach what is read.
const AGGREGATION_DEADLINE: Duration = Duration::from_secs(20);

/// A PERIODIC monthly quota of `limit` counting `metric`.
fn monthly(key: &str, metric: &str, limit: Option<i64>) -> pb::QuotaDefinition {
    pb::QuotaDefinition {
        period: pb::QuotaPeriod::Month.into(),
        usage_metric: metric.to_owned(),
        unlimited: limit.is_none(),
        ..definition(key, pb::QuotaKind::Periodic, limit.unwrap_or(0))
    }
}

async fn summary(
    client: &mut Client,
    parent: &str,
    day: &str,
    metrics: &[&str],
) -> Result<pb::GetUsageSummaryResponse, tonic::Status> {
    client
        .get_usage_summary(pb::GetUsageSummaryRequest {
            parent: parent.to_owned(),
            day: day.to_owned(),
            metrics: metrics.iter().map(|key| (*key).to_owned()).collect(),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// (included, unlimited, quota, used, overage) of `metric`; a metric
/// without an allowance (`has_allowance` false) must include nothing.
fn line(answer: &pb::GetUsageSummaryResponse, metric: &str) -> (f64, bool, String, f64, f64) {
    let found = answer
        .metrics
        .iter()
        .find(|summary| summary.metric == metric)
        .unwrap_or_else(|| panic!("{metric} in {answer:?}"));
    assert_eq!(
        found.has_allowance,
        !found.quota.is_empty(),
        "an allowance exactly when a quota counts {metric}: {found:?}"
    );
    (
        found.included,
        found.unlimited,
        found.quota.clone(),
        found.used,
        found.overage,
    )
}

/// The summary once `metric` reads `used`, or the last one read.
async fn summary_when(
    client: &mut Client,
    parent: &str,
    metric: &str,
    used: f64,
) -> pb::GetUsageSummaryResponse {
    let deadline = Instant::now() + AGGREGATION_DEADLINE;
    loop {
        let answer = summary(client, parent, "", &[]).await.expect("summary");
        if line(&answer, metric).3 == used || Instant::now() > deadline {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn summaries_set_usage_against_the_plan(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = client(&server, ADMIN_TOKEN);
    for (key, aggregation) in [
        ("api.calls", pb::MetricAggregation::Sum),
        ("seats", pb::MetricAggregation::Max),
        ("storage", pb::MetricAggregation::Sum),
    ] {
        create_metric(&mut admin, key, aggregation).await;
    }
    let parent = tenant_on_plan(
        &server,
        "metered",
        vec![
            monthly("api_calls_monthly", "api.calls", Some(100)),
            monthly("storage_monthly", "storage", None),
        ],
    )
    .await;
    let now = Utc::now();
    let mut service = client(&server, SERVICE_TOKEN);
    let events = vec![
        event("c1", &parent, "api.calls", 60.0, now),
        event("c2", &parent, "api.calls", 70.0, now),
        event("s1", &parent, "seats", 3.0, now),
        event("s2", &parent, "seats", 5.0, now),
        event("g1", &parent, "storage", 1000.0, now),
    ];
    assert_eq!(report(&mut service, events).await.accepted_count, 5);

    let answer = summary_when(&mut admin, &parent, "api.calls", 130.0).await;
    let today = now.date_naive();
    let first = today.with_day(1).expect("first day");
    assert_eq!(answer.period_start_day, first.to_string());
    assert_eq!(
        answer.period_end_day,
        (first + chrono::Months::new(1))
            .pred_opt()
            .expect("last day")
            .to_string()
    );
    assert_eq!(answer.plan, "plans/metered");
    let keys: Vec<&str> = answer
        .metrics
        .iter()
        .map(|summary| summary.metric.as_str())
        .collect();
    assert_eq!(keys, ["api.calls", "seats", "storage"], "ordered by key");
    assert_eq!(
        line(&answer, "api.calls"),
        (100.0, false, "api_calls_monthly".to_owned(), 130.0, 30.0)
    );
    // No quota counts seats: the plan has no allowance for it, so nothing
    // of it is overage (it is not "0 included").
    assert_eq!(
        line(&answer, "seats"),
        (0.0, false, String::new(), 5.0, 0.0)
    );
    assert_eq!(
        line(&answer, "storage"),
        (0.0, true, "storage_monthly".to_owned(), 1000.0, 0.0)
    );
    assert_eq!(answer.metrics[0].unit, "1");

    // An override raises what is included.
    quotas(&server)
        .set_quota_override(pb::SetQuotaOverrideRequest {
            quota_override: Some(pb::QuotaOverride {
                name: format!("{parent}/quotaOverrides/api_calls_monthly"),
                limit: 200,
                reason: "contract amendment".to_owned(),
                ..Default::default()
            }),
            force: false,
        })
        .await
        .expect("override");
    let answer = summary(&mut admin, &parent, "", &["api.calls"])
        .await
        .expect("summary");
    assert_eq!(answer.metrics.len(), 1);
    assert_eq!(
        line(&answer, "api.calls"),
        (200.0, false, "api_calls_monthly".to_owned(), 130.0, 0.0)
    );

    // Another period: the same plan, nothing used.
    let past = summary(&mut admin, &parent, "2020-02-10", &[])
        .await
        .expect("past");
    assert_eq!(
        (past.period_start_day.as_str(), past.period_end_day.as_str()),
        ("2020-02-01", "2020-02-29")
    );
    assert!(
        past.metrics
            .iter()
            .all(|summary| summary.used == 0.0 && summary.overage == 0.0),
        "{past:?}"
    );

    // Bad input.
    let status = summary(&mut admin, &parent, "2020-13-01", &["Not A Key"])
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&status), ["metrics[0]", "day"]);
    let status = summary(&mut admin, &parent, "", &["no.such.metric"])
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    server.stop().await;
}

crate::backend_tests!(summaries_set_usage_against_the_plan,);
