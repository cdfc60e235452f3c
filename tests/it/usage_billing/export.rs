//! ExportUsage: usage comes in chunks, resumes where a page token says, and
//! matches the CSV export.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use tenantd::pb;
use tonic::Code;

use super::AGGREGATION_DEADLINE;
use crate::support::fixtures::create;
use crate::support::server::{ADMIN_TOKEN, SERVICE_TOKEN};
use crate::support::status::{assert_error, invalid_fields};
use crate::support::{Backend, TestServer};
use crate::usage::{Client, client, create_metric, day, event, report};

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

crate::backend_tests!(exports_come_in_chunks_and_resume,);
