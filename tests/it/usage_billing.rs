//! UsageService's billing reads over real gRPC: GetUsageSummary against
//! the plan (included, used, overage, unlimited, overrides), ExportUsage
//! in chunks with resume tokens, and `tenantd usage export --format csv`
//! answering the same rollups.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::{Datelike, TimeDelta, Utc};
use tenantd::pb;
use tonic::Code;

use crate::quota::{definition, quotas, tenant_on_plan};
use crate::support::fixtures::create;
use crate::support::server::{ADMIN_TOKEN, SERVICE_TOKEN};
use crate::support::status::{assert_error, invalid_fields};
use crate::support::{Backend, TestServer};
use crate::usage::{Client, client, create_metric, day, event, report};

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

async fn export(
    client: &mut Client,
    request: pb::ExportUsageRequest,
) -> Result<Vec<pb::ExportUsageResponse>, tonic::Status> {
    let mut stream = client.export_usage(request).await?.into_inner();
    let mut chunks = Vec::new();
    while let Some(chunk) = stream.message().await? {
        chunks.push(chunk);
    }
    Ok(chunks)
}

/// A rollup as (tenant, metric, day, value); the values are whole numbers.
type Row = (String, String, String, i64);

/// Every rollup of `chunks`, in order.
fn rows(chunks: &[pb::ExportUsageResponse]) -> Vec<Row> {
    chunks
        .iter()
        .flat_map(|chunk| chunk.rollups.iter())
        .map(|rollup| {
            (
                rollup.tenant.clone(),
                rollup.metric.clone(),
                rollup.day.clone(),
                rollup.value as i64,
            )
        })
        .collect()
}

/// Three tenants × 63 metrics × 7 days: 1,323 rollups, more than one chunk.
const METRICS: usize = 63;
const DAYS: i64 = 7;

/// Reports one event per (tenant, metric, day) with a value naming all
/// three; answers the rollups expected, as `rows` gives them.
async fn fill(server: &TestServer, tenants: &[pb::Tenant]) -> BTreeSet<Row> {
    let mut admin = client(server, ADMIN_TOKEN);
    for index in 0..METRICS {
        create_metric(
            &mut admin,
            &format!("m{index:02}"),
            pb::MetricAggregation::Sum,
        )
        .await;
    }
    let now = Utc::now();
    let mut expected = BTreeSet::new();
    let mut events = Vec::new();
    for (position, tenant) in tenants.iter().enumerate() {
        for index in 0..METRICS {
            for back in 0..DAYS {
                let at = now - TimeDelta::days(back);
                let value = (position * 10_000 + index * 10) as i64 + back;
                let metric = format!("m{index:02}");
                events.push(event(
                    &format!("{position}-{index}-{back}"),
                    &tenant.name,
                    &metric,
                    value as f64,
                    at,
                ));
                expected.insert((tenant.name.clone(), metric, day(at), value));
            }
        }
    }
    let mut service = client(server, SERVICE_TOKEN);
    for batch in events.chunks(1000) {
        let answer = report(&mut service, batch.to_vec()).await;
        assert_eq!(answer.accepted_count as usize, batch.len());
    }
    expected
}

fn range_request() -> pb::ExportUsageRequest {
    let now = Utc::now();
    pb::ExportUsageRequest {
        start_day: day(now - TimeDelta::days(DAYS)),
        end_day: day(now),
        ..Default::default()
    }
}

async fn exports_come_in_chunks_and_resume(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut tenants_client = server.tenants();
    let mut tenants = Vec::new();
    for slug in ["export-a", "export-b", "export-c"] {
        tenants.push(create(&mut tenants_client, slug).await);
    }
    let expected = fill(&server, &tenants).await;
    let mut admin = client(&server, ADMIN_TOKEN);
    let deadline = Instant::now() + AGGREGATION_DEADLINE;
    let chunks = loop {
        let chunks = export(&mut admin, range_request()).await.expect("export");
        if rows(&chunks).len() == expected.len() || Instant::now() > deadline {
            break chunks;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let sizes: Vec<usize> = chunks.iter().map(|chunk| chunk.rollups.len()).collect();
    assert_eq!(sizes, [1000, expected.len() - 1000]);
    let all = rows(&chunks);
    let mut sorted = all.clone();
    sorted.sort_by(|left, right| (&left.0, &left.1, &left.2).cmp(&(&right.0, &right.1, &right.2)));
    assert_eq!(all, sorted, "in (tenant, metric, day) order");
    assert_eq!(all.iter().cloned().collect::<BTreeSet<_>>(), expected);
    let first = &chunks[0].rollups[0];
    assert_eq!(
        (first.unit.as_str(), first.event_count, first.closed),
        ("1", 1, false)
    );
    assert!(first.update_time.is_some());

    // Resuming after the first chunk gives exactly the rest.
    let rest = export(
        &mut admin,
        pb::ExportUsageRequest {
            resume_token: chunks[0].resume_token.clone(),
            ..range_request()
        },
    )
    .await
    .expect("resumed");
    assert_eq!(rows(&rest), all[1000..]);

    // Some tenants (by slug or id) and some metrics.
    let some = export(
        &mut admin,
        pb::ExportUsageRequest {
            tenants: vec!["tenants/slug:export-b".to_owned(), tenants[2].name.clone()],
            metrics: vec!["m05".to_owned()],
            ..range_request()
        },
    )
    .await
    .expect("filtered");
    let filtered: BTreeSet<_> = expected
        .iter()
        .filter(|row| row.1 == "m05" && row.0 != tenants[0].name)
        .cloned()
        .collect();
    assert_eq!(rows(&some).into_iter().collect::<BTreeSet<_>>(), filtered);
    assert_eq!(some.len(), 1);

    // A token is tied to its export; bad ranges and names are refused.
    let status = export(
        &mut admin,
        pb::ExportUsageRequest {
            metrics: vec!["m05".to_owned()],
            resume_token: chunks[0].resume_token.clone(),
            ..range_request()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(invalid_fields(&status), ["resume_token"]);
    let status = export(
        &mut admin,
        pb::ExportUsageRequest {
            tenants: vec!["acme".to_owned()],
            start_day: "2026-01-01".to_owned(),
            end_day: "2027-06-01".to_owned(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(invalid_fields(&status), ["tenants[0]"]);
    let status = export(
        &mut admin,
        pb::ExportUsageRequest {
            start_day: "2026-01-01".to_owned(),
            end_day: "2027-06-01".to_owned(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(invalid_fields(&status), ["end_day"]);
    let status = export(&mut admin, pb::ExportUsageRequest::default())
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&status), ["start_day", "end_day"]);
    // Export is for operators: a service is refused.
    let status = export(&mut client(&server, SERVICE_TOKEN), range_request())
        .await
        .unwrap_err();
    assert_error(&status, Code::PermissionDenied, "CALLER_NOT_ALLOWED");

    // The operator's CSV export gives the same rollups.
    let csv = csv_export(&server.database_url, &range_request());
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("tenant_id,metric,day,value,event_count,unit,closed,update_time")
    );
    let from_csv: Vec<Row> = lines
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            assert_eq!(fields.len(), 8, "{line}");
            (
                format!("tenants/{}", fields[0]),
                fields[1].to_owned(),
                fields[2].to_owned(),
                fields[3].parse::<f64>().expect("value") as i64,
            )
        })
        .collect();
    assert_eq!(from_csv, all);
    server.stop().await;
}

/// Runs `tenantd usage export --format csv` on `database_url`; its stdout.
fn csv_export(database_url: &str, range: &pb::ExportUsageRequest) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tenantd"))
        .args(["usage", "export", "--format", "csv", "--from"])
        .arg(&range.start_day)
        .arg("--to")
        .arg(&range.end_day)
        .env("TENANTD_DATABASE_URL", database_url)
        .output()
        .expect("run tenantd usage export");
    assert!(
        output.status.success(),
        "tenantd usage export failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

crate::backend_tests!(
    summaries_set_usage_against_the_plan,
    exports_come_in_chunks_and_resume,
);
