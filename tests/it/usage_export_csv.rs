//! `tenantd usage export --format csv`, run as an operator runs it: every
//! record has its eight fields however a metric's unit is written (commas
//! and quotes are quoted, RFC 4180), and a unit a spreadsheet would run as
//! a formula (`=`, `+`, `-`, `@` first) is written with a leading `'`.

use std::collections::BTreeMap;

use chrono::{TimeDelta, Utc};
use tenantd::pb;

use crate::process::tenantd;
use crate::support::fixtures::create;
use crate::support::server::{ADMIN_TOKEN, SERVICE_TOKEN};
use crate::support::usage::wait_for_aggregation;
use crate::support::{Backend, TestServer};
use crate::usage::{client, day, event, report};

/// (metric key, unit as created, unit as the CSV must show it).
const UNITS: [(&str, &str, &str); 6] = [
    ("comma", "{req,s}", "{req,s}"),
    ("quote", r#"{"q"}"#, r#"{"q"}"#),
    (
        "formula",
        r#"=HYPERLINK("http://evil.test","x")"#,
        r#"'=HYPERLINK("http://evil.test","x")"#,
    ),
    ("minus", "-1+1", "'-1+1"),
    ("plus", "+1", "'+1"),
    ("at", "@SUM(A1)", "'@SUM(A1)"),
];

async fn csv_fields_are_quoted_and_formulas_neutralised(backend: Backend) {
    let server = TestServer::start(backend).await;
    let acme = create(&mut server.tenants(), "acme").await.name;
    let mut admin = client(&server, ADMIN_TOKEN);
    for (key, unit, _) in UNITS {
        admin
            .create_metric(pb::CreateMetricRequest {
                metric_id: key.to_owned(),
                metric: Some(pb::Metric {
                    unit: unit.to_owned(),
                    aggregation: pb::MetricAggregation::Sum.into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .expect("create metric");
    }
    let now = Utc::now() - TimeDelta::seconds(1);
    let events = UNITS
        .iter()
        .map(|(key, ..)| event(key, &acme, key, 2.5, now))
        .collect();
    let answer = report(&mut client(&server, SERVICE_TOKEN), events).await;
    assert_eq!(answer.accepted_count, 6);
    wait_for_aggregation(&server.database_url).await;

    let output = tenantd()
        .args(["usage", "export", "--format", "csv", "--from"])
        .arg(day(now))
        .arg("--to")
        .arg(day(now))
        .env("TENANTD_DATABASE_URL", &server.database_url)
        .output()
        .expect("run tenantd usage export");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("utf-8");
    assert!(text.contains(r#","{req,s}","#), "quoted: {text}");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        header,
        [
            "tenant_id",
            "metric",
            "day",
            "value",
            "event_count",
            "unit",
            "closed",
            "update_time"
        ]
    );
    let mut units = BTreeMap::new();
    for record in reader.records() {
        let record = record.expect("a well-formed record");
        assert_eq!(record.len(), 8, "{record:?}");
        assert_eq!(format!("tenants/{}", &record[0]), acme);
        assert_eq!((&record[2], &record[3]), (day(now).as_str(), "2.5"));
        units.insert(record[1].to_owned(), record[5].to_owned());
    }
    let expected: BTreeMap<String, String> = UNITS
        .iter()
        .map(|(key, _, shown)| ((*key).to_owned(), (*shown).to_owned()))
        .collect();
    assert_eq!(units, expected);
    server.stop().await;
}

crate::backend_tests!(csv_fields_are_quoted_and_formulas_neutralised);
