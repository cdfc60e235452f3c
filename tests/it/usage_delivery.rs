//! What the exactly-once acceptance tests share: a workload of 100,000
//! distinct events in batches, a reporter that re-sends what was not acked
//! (and some that was) over new streams, and the rollups it must find.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use prost_types::Timestamp;
use tenantd::pb;
use tenantd::pb::usage_service_client::UsageServiceClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::support::fixtures::create;
use crate::support::server::{ADMIN_TOKEN, Credentials, SERVICE_TOKEN};
use crate::support::usage::day_points;

/// Events in the workload.
pub const EVENTS: usize = 100_000;
/// Events per batch.
pub const BATCH: usize = 1000;
/// Tenants the events are spread over.
const TENANTS: usize = 5;

type UsageClient = UsageServiceClient<InterceptedService<Channel, Credentials>>;

/// The events to deliver and the rollups they must make.
pub struct Workload {
    /// The batches, sequence = position + 1.
    pub batches: Vec<pb::StreamUsageRequest>,
    /// (tenant name, metric) → (value, event count).
    pub expected: BTreeMap<(String, String), (f64, i64)>,
    /// The tenants' names.
    pub tenants: Vec<String>,
    /// When the events occurred.
    pub at: DateTime<Utc>,
}

/// Creates the tenants and metrics on the server behind `channel` and
/// makes the workload.
pub async fn prepare(channel: &Channel) -> Workload {
    let mut tenants_client = pb::tenant_service_client::TenantServiceClient::with_interceptor(
        channel.clone(),
        Credentials::bearer(ADMIN_TOKEN),
    );
    let mut tenants = Vec::new();
    for index in 0..TENANTS {
        tenants.push(
            create(&mut tenants_client, &format!("meter{index}"))
                .await
                .name,
        );
    }
    let metrics = [
        ("bytes", pb::MetricAggregation::Sum, ""),
        ("calls", pb::MetricAggregation::Count, ""),
    ];
    crate::support::usage::create_metrics(channel, &metrics).await;
    // Noon of today or yesterday: all on one day, never in the future.
    let now = Utc::now();
    let at = now
        .date_naive()
        .and_hms_opt(12, 0, 0)
        .map(|noon| noon.and_utc())
        .unwrap_or(now);
    let at = if at > now {
        at - TimeDelta::days(1)
    } else {
        at
    };
    let mut expected = BTreeMap::new();
    let events: Vec<pb::UsageEvent> = (0..EVENTS)
        .map(|index| {
            let tenant = tenants[index % TENANTS].clone();
            let metric = if index % 2 == 0 { "bytes" } else { "calls" };
            let quantity = (index % 7) as f64;
            let entry = expected
                .entry((tenant.clone(), metric.to_owned()))
                .or_insert((0.0, 0));
            entry.0 += if metric == "bytes" { quantity } else { 1.0 };
            entry.1 += 1;
            pb::UsageEvent {
                event_id: format!("event-{index}"),
                tenant,
                metric: metric.to_owned(),
                quantity,
                occurred_time: Some(Timestamp {
                    seconds: at.timestamp(),
                    nanos: 0,
                }),
                ..Default::default()
            }
        })
        .collect();
    let batches = events
        .chunks(BATCH)
        .enumerate()
        .map(|(index, chunk)| pb::StreamUsageRequest {
            sequence: index as i64 + 1,
            events: chunk.to_vec(),
        })
        .collect();
    Workload {
        batches,
        expected,
        tenants,
        at,
    }
}

/// Sends `batches` over one stream to `channel`; `on_ack` hears the number
/// of acks so far after each. Answers the acked sequences, up to where the
/// stream ended or broke.
pub async fn send(
    channel: &Channel,
    batches: Vec<pb::StreamUsageRequest>,
    mut on_ack: impl FnMut(usize),
) -> Vec<i64> {
    let mut client: UsageClient =
        UsageServiceClient::with_interceptor(channel.clone(), Credentials::bearer(SERVICE_TOKEN));
    let mut acked = Vec::new();
    let Ok(answer) = client.stream_usage(tokio_stream::iter(batches)).await else {
        return acked;
    };
    let mut acks = answer.into_inner();
    while let Ok(Some(ack)) = acks.message().await {
        assert_eq!(ack.rejected_count, 0, "no event of the workload is invalid");
        acked.push(ack.sequence);
        on_ack(acked.len());
    }
    acked
}

/// The batches to send again after a first attempt acked `acked`: every
/// batch not acked, plus the last `again` acked ones.
pub fn to_resend(workload: &Workload, acked: &[i64], again: usize) -> Vec<pb::StreamUsageRequest> {
    let resent_acked: Vec<i64> = acked.iter().rev().take(again).copied().collect();
    workload
        .batches
        .iter()
        .filter(|batch| !acked.contains(&batch.sequence) || resent_acked.contains(&batch.sequence))
        .cloned()
        .collect()
}

/// Re-sends until every batch of `workload` has been acked, starting from
/// what the first attempt acked.
pub async fn deliver_rest(channel: &Channel, workload: &Workload, first: &[i64]) {
    let mut acked: Vec<i64> = first.to_vec();
    let mut pending = to_resend(workload, first, 10);
    for _attempt in 0..10 {
        if pending.is_empty() {
            return;
        }
        let now_acked = send(channel, pending.clone(), |_| {}).await;
        acked.extend(now_acked.iter().copied());
        pending.retain(|batch| !acked.contains(&batch.sequence));
    }
    assert!(pending.is_empty(), "batches never acked: {}", pending.len());
}

/// The day rollups of the workload's tenants, as QueryUsage answers.
pub async fn rollups(
    channel: &Channel,
    workload: &Workload,
) -> BTreeMap<(String, String), (f64, i64)> {
    let day = workload.at.format("%Y-%m-%d").to_string();
    let mut found = BTreeMap::new();
    for tenant in &workload.tenants {
        let days = (day.clone(), day.clone());
        for (metric, _day, value, count) in day_points(channel, tenant, days).await {
            found.insert((tenant.clone(), metric), (value, count));
        }
    }
    found
}
