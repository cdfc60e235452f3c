//! Reading a scrape as Prometheus would: families, samples, counters,
//! histogram counts, label values, and the family names the chart's files
//! use.

use std::collections::BTreeSet;

use prometheus_parse::{Sample, Scrape, Value};

use crate::process::http_get;

pub(super) fn scrape(port: u16) -> Scrape {
    let answer = http_get(port, "/metrics");
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    let lines = body.lines().map(|line| Ok(line.to_owned()));
    Scrape::parse(lines).expect("the Prometheus text format")
}

pub(super) fn samples<'s>(scrape: &'s Scrape, name: &str) -> Vec<&'s Sample> {
    scrape
        .samples
        .iter()
        .filter(|sample| sample.metric == name)
        .collect()
}

pub(super) fn counter(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<f64> = samples(scrape, name)
        .into_iter()
        .filter(|sample| {
            labels
                .iter()
                .all(|(key, value)| sample.labels.get(key) == Some(value))
        })
        .map(|sample| match sample.value {
            Value::Counter(value) => value,
            ref other => panic!("{name} is not a counter: {other:?}"),
        })
        .collect();
    assert_eq!(found.len(), 1, "one {name} series with {labels:?}");
    found[0]
}

/// The count of the one histogram series of `name` with `labels`.
pub(super) fn histogram_count(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> u64 {
    let found: Vec<u64> = samples(scrape, name)
        .into_iter()
        .filter(|sample| {
            labels
                .iter()
                .all(|(key, value)| sample.labels.get(key) == Some(value))
        })
        .map(|sample| match &sample.value {
            Value::Histogram(buckets) => {
                let infinite = buckets.iter().find(|bucket| bucket.less_than.is_infinite());
                infinite.expect("a +Inf bucket").count as u64
            }
            other => panic!("{name} is not a histogram: {other:?}"),
        })
        .collect();
    assert_eq!(found.len(), 1, "one {name} series with {labels:?}");
    found[0]
}

pub(super) fn label_values(scrape: &Scrape, name: &str, label: &str) -> BTreeSet<String> {
    samples(scrape, name)
        .into_iter()
        .filter_map(|sample| sample.labels.get(label).map(str::to_owned))
        .collect()
}

/// Every family name a file of the chart uses, as a series name would be
/// written in PromQL (histograms by their `_bucket`, `_sum`, `_count`).
pub(super) fn chart_metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut start = 0;
    while let Some(found) = text[start..].find("tenantd_") {
        let begin = start + found;
        let boundary = begin == 0
            || !(bytes[begin - 1].is_ascii_alphanumeric()
                || bytes[begin - 1] == b'_'
                || bytes[begin - 1] == b':');
        let end = text[begin..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(text.len(), |length| begin + length);
        if boundary {
            let name = &text[begin..end];
            let family = ["_bucket", "_count", "_sum"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .unwrap_or(name);
            names.insert(family.to_owned());
        }
        start = end;
    }
    names
}
