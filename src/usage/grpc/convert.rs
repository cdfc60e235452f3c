//! UsageService conversions: proto metrics, events and queries to domain
//! values (request validation happens here), and domain answers back.

use chrono::{DateTime, NaiveDate, Utc};
use prost_types::{FieldMask, Timestamp};

use crate::common::ids::TenantRef;
use crate::common::validate::storable_text;
use crate::error::{Error, FieldViolation, Result, Violations};
use crate::pb;
use crate::rpc::convert::{etag, into_result, required, timestamp};
use crate::rpc::mask::{not_mutable, update_paths};
use crate::usage::event::{RawEvent, RejectionReason};
use crate::usage::ingest::BatchOutcome;
use crate::usage::metric::{
    Aggregation, Metric, MetricPatch, MetricSpec, NewMetric, parse_metric_name, validate_key,
    validate_text, validate_unique_dimension,
};
use crate::usage::query::{
    Granularity, UsageAnswer, UsagePoint, UsageQuery, UsageSeries, check_range,
};

/// Every aggregation, to decode by [`aggregation_to`]: each mapping is
/// written once.
const AGGREGATIONS: [Aggregation; 5] = [
    Aggregation::Sum,
    Aggregation::Count,
    Aggregation::Max,
    Aggregation::UniqueCount,
    Aggregation::Latest,
];

/// A proto aggregation as a domain one; `None` for UNSPECIFIED and unknown
/// values.
fn aggregation_from(value: i32) -> Option<Aggregation> {
    AGGREGATIONS
        .into_iter()
        .find(|known| i32::from(aggregation_to(*known)) == value)
}

pub(crate) fn aggregation_to(aggregation: Aggregation) -> pb::MetricAggregation {
    match aggregation {
        Aggregation::Sum => pb::MetricAggregation::Sum,
        Aggregation::Count => pb::MetricAggregation::Count,
        Aggregation::Max => pb::MetricAggregation::Max,
        Aggregation::UniqueCount => pb::MetricAggregation::UniqueCount,
        Aggregation::Latest => pb::MetricAggregation::Latest,
    }
}

impl From<&Metric> for pb::Metric {
    fn from(metric: &Metric) -> Self {
        Self {
            name: metric.resource_name(),
            key: metric.key.clone(),
            display_name: metric.spec.display_name.clone(),
            description: metric.spec.description.clone(),
            unit: metric.spec.unit.clone(),
            aggregation: aggregation_to(metric.spec.aggregation).into(),
            unique_dimension: metric.spec.unique_dimension.clone(),
            create_time: Some(timestamp(metric.stamps.create_time)),
            update_time: Some(timestamp(metric.stamps.update_time)),
            etag: metric.etag(),
        }
    }
}

/// Validates a CreateMetric request's metric and key.
pub fn new_metric(request: &pb::CreateMetricRequest) -> Result<NewMetric> {
    let metric = required(request.metric.as_ref(), "metric")?;
    let mut violations = Vec::new();
    validate_key(&request.metric_id, "metric_id", &mut violations);
    validate_text(
        Some(&metric.display_name),
        Some(&metric.description),
        Some(&metric.unit),
        "metric",
        &mut violations,
    );
    let aggregation = aggregation_from(metric.aggregation);
    if aggregation.is_none() {
        violations.refuse(
            "metric.aggregation",
            "is required: SUM, COUNT, MAX, UNIQUE_COUNT or LATEST",
        );
    }
    validate_unique_dimension(
        aggregation,
        &metric.unique_dimension,
        "metric.unique_dimension",
        &mut violations,
    );
    let new = NewMetric {
        key: request.metric_id.clone(),
        spec: MetricSpec {
            display_name: metric.display_name.trim().to_owned(),
            description: metric.description.clone(),
            unit: metric.unit.trim().to_owned(),
            aggregation: aggregation.unwrap_or(Aggregation::Sum),
            unique_dimension: metric.unique_dimension.clone(),
        },
    };
    into_result(new, violations)
}

/// Validates an UpdateMetric request's changes. Naming an immutable field
/// in the mask is refused, so a caller never believes it changed.
pub fn metric_patch(metric: &pb::Metric, mask: Option<&FieldMask>) -> Result<MetricPatch> {
    let mut violations = Vec::new();
    let fields = [
        ("display_name", !metric.display_name.is_empty()),
        ("description", !metric.description.is_empty()),
        ("unit", !metric.unit.is_empty()),
    ];
    let mut patch = MetricPatch::default();
    for path in update_paths(mask, &fields) {
        match path {
            "display_name" => patch.display_name = Some(metric.display_name.trim().to_owned()),
            "description" => patch.description = Some(metric.description.clone()),
            "unit" => patch.unit = Some(metric.unit.trim().to_owned()),
            other => violations.push(not_mutable(other, "Metric", &fields)),
        }
    }
    validate_text(
        patch.display_name.as_deref(),
        patch.description.as_deref(),
        patch.unit.as_deref(),
        "metric",
        &mut violations,
    );
    into_result(patch, violations)
}

/// Validates an UpdateMetric request: the metric's key, the etag it must
/// still have (none when empty) and the patch.
pub fn metric_update(
    request: &pb::UpdateMetricRequest,
) -> Result<(String, Option<&str>, MetricPatch)> {
    let metric = required(request.metric.as_ref(), "metric")?;
    // Checked in this order: the name, then the patch.
    Ok((
        parse_metric_name(&metric.name, "metric.name")?,
        etag(&metric.etag),
        metric_patch(metric, request.update_mask.as_ref())?,
    ))
}

fn time(value: Option<&Timestamp>) -> Option<DateTime<Utc>> {
    let value = value?;
    let nanos = u32::try_from(value.nanos).ok()?;
    DateTime::from_timestamp(value.seconds, nanos)
}

/// The first text field of `event` that no backend can store, by its path
/// within the event.
fn unstorable(event: &pb::UsageEvent) -> Option<FieldViolation> {
    let named = [
        ("event_id", &event.event_id),
        ("tenant", &event.tenant),
        ("metric", &event.metric),
    ];
    for (field, value) in named {
        if let Err(violation) = storable_text(value, field) {
            return Some(violation);
        }
    }
    let mut dimensions: Vec<(&String, &String)> = event.dimensions.iter().collect();
    dimensions.sort();
    dimensions.into_iter().find_map(|(key, value)| {
        let field = format!("dimensions[{key:?}]");
        storable_text(key, &field)
            .and_then(|()| storable_text(value, &field))
            .err()
    })
}

/// The events of a batch, unchecked apart from storable text: problems
/// with single events are answered per event by the domain.
pub fn raw_events(events: Vec<pb::UsageEvent>) -> Vec<RawEvent> {
    events
        .into_iter()
        .map(|event| RawEvent {
            unstorable: unstorable(&event),
            occurred_time: time(event.occurred_time.as_ref()),
            event_id: event.event_id,
            tenant: event.tenant,
            metric: event.metric,
            quantity: event.quantity,
            dimensions: event.dimensions.into_iter().collect(),
        })
        .collect()
}

fn reason_to(reason: RejectionReason) -> pb::UsageRejectionReason {
    match reason {
        RejectionReason::UnknownMetric => pb::UsageRejectionReason::UnknownMetric,
        RejectionReason::TooOld => pb::UsageRejectionReason::TooOld,
        RejectionReason::TooFarInFuture => pb::UsageRejectionReason::TooFarInFuture,
        RejectionReason::Invalid => pb::UsageRejectionReason::Invalid,
        RejectionReason::TenantNotFound => pb::UsageRejectionReason::TenantNotFound,
    }
}

fn count(value: usize) -> i32 {
    // Batches hold at most 1000 events.
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// The answer to ReportUsage: the counts and rejections of `outcome`.
pub fn report_response(outcome: BatchOutcome) -> pb::ReportUsageResponse {
    let rejected_events = outcome
        .rejected
        .into_iter()
        .map(|rejection| pb::RejectedUsageEvent {
            index: count(rejection.index),
            event_id: rejection.event_id,
            reason: reason_to(rejection.reason).into(),
            message: rejection.message,
        })
        .collect::<Vec<_>>();
    pb::ReportUsageResponse {
        accepted_count: count(outcome.accepted),
        duplicate_count: count(outcome.duplicates),
        rejected_count: count(rejected_events.len()),
        rejected_events,
    }
}

/// The ack of StreamUsage's batch `sequence`: the same counts and
/// rejections as ReportUsage answers.
pub fn stream_response(sequence: i64, outcome: BatchOutcome) -> pb::StreamUsageResponse {
    let report = report_response(outcome);
    pb::StreamUsageResponse {
        sequence,
        accepted_count: report.accepted_count,
        duplicate_count: report.duplicate_count,
        rejected_count: report.rejected_count,
        rejected_events: report.rejected_events,
    }
}

pub(crate) fn day(
    text: &str,
    field: &str,
    violations: &mut Vec<FieldViolation>,
) -> Option<NaiveDate> {
    let parsed = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|_| text.len() == 10);
    if parsed.is_none() {
        violations.refuse(field, "must be a day, YYYY-MM-DD");
    }
    parsed
}

/// Validates a QueryUsage request: the tenant it names (checked first)
/// and the query.
pub fn usage_query(request: &pb::QueryUsageRequest) -> Result<(TenantRef, UsageQuery)> {
    let by = TenantRef::parse_name(&request.parent, "parent")?;
    let mut violations = Vec::new();
    for (index, key) in request.metrics.iter().enumerate() {
        validate_key(key, &format!("metrics[{index}]"), &mut violations);
    }
    let start = day(&request.start_day, "start_day", &mut violations);
    let end = day(&request.end_day, "end_day", &mut violations);
    let granularity = match pb::UsageGranularity::try_from(request.granularity) {
        Ok(pb::UsageGranularity::Unspecified | pb::UsageGranularity::Day) => Granularity::Day,
        Ok(pb::UsageGranularity::Month) => Granularity::Month,
        Err(_) => {
            violations.refuse("granularity", "must be DAY or MONTH");
            Granularity::Day
        }
    };
    let (Some(start_day), Some(end_day), true) = (start, end, violations.is_empty()) else {
        return Err(Error::InvalidArgument(violations));
    };
    check_range(start_day, end_day, granularity)?;
    let query = UsageQuery {
        metrics: request.metrics.clone(),
        start_day,
        end_day,
        granularity,
    };
    Ok((by, query))
}

fn point(point: &UsagePoint) -> pb::UsagePoint {
    pb::UsagePoint {
        start_day: point.start_day.to_string(),
        end_day: point.end_day.to_string(),
        value: point.value,
        event_count: point.event_count,
        closed: point.closed,
    }
}

fn series(series: &UsageSeries) -> pb::UsageSeries {
    pb::UsageSeries {
        metric: series.metric.key.clone(),
        unit: series.metric.spec.unit.clone(),
        aggregation: aggregation_to(series.metric.spec.aggregation).into(),
        points: series.points.iter().map(point).collect(),
    }
}

/// The answer to QueryUsage.
pub fn usage_answer(answer: &UsageAnswer) -> pb::QueryUsageResponse {
    pb::QueryUsageResponse {
        series: answer.series.iter().map(series).collect(),
        aggregate_time: Some(timestamp(answer.aggregate_time)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Aggregations decode by the one mapping that encodes them, so a proto
    /// value missing from [`AGGREGATIONS`] shows here.
    #[test]
    fn every_known_aggregation_decodes_to_what_encodes_it() {
        for value in -1..16 {
            match pb::MetricAggregation::try_from(value) {
                Ok(pb::MetricAggregation::Unspecified) | Err(_) => {
                    assert_eq!(aggregation_from(value), None);
                }
                Ok(known) => assert_eq!(aggregation_from(value).map(aggregation_to), Some(known)),
            }
        }
    }
}
