//! `quota.threshold_crossed`: each warning threshold of a PERIODIC quota is
//! announced once per period, however many calls reach it and whichever
//! replica answers them (two replicas sharing Redis counters); a RATE
//! quota's thresholds warn on the answer but are not announced.

use std::collections::BTreeMap;
use std::time::Duration;

use tenantd::pb;

use super::{admin, events, no_event_within};
use crate::quota::{
    Counters, allocate_concurrently, definition, quotas, redis_url, start, tenant_on_plan, used,
};
use crate::support::TestServer;

async fn periodic_thresholds_are_announced_once_per_period(counters: Counters) {
    let first = start(counters).await;
    let second = match counters {
        Counters::Redis => Some(
            TestServer::start_on(first.database(), |config| {
                config.redis_url = Some(redis_url())
            })
            .await,
        ),
        Counters::Memory => None,
    };
    let daily = pb::QuotaDefinition {
        period: pb::QuotaPeriod::Day.into(),
        warning_threshold_percents: vec![50, 80],
        ..definition("exports", pb::QuotaKind::Periodic, 20)
    };
    let per_minute = pb::QuotaDefinition {
        period: pb::QuotaPeriod::Minute.into(),
        algorithm: pb::RateLimitAlgorithm::SlidingWindow.into(),
        warning_threshold_percents: vec![50],
        ..definition("bursts", pb::QuotaKind::Rate, 4)
    };
    let parent = tenant_on_plan(&first, "thresholds", vec![daily, per_minute]).await;
    let mut stream = admin(&first.channel)
        .watch_events(pb::WatchEventsRequest {
            event_types: vec!["quota.threshold_crossed".to_owned()],
            tenants: vec![parent.clone()],
            after_sequence: Some(0),
            ..Default::default()
        })
        .await
        .expect("watch")
        .into_inner();
    let clients = [quotas(&first), quotas(second.as_ref().unwrap_or(&first))];

    // The RATE quota reaches 50 % and then 75 % of its 4 a minute.
    assert_eq!(
        allocate_concurrently(&clients, &parent, "bursts", 3, 4).await,
        3
    );
    // 40 calls of 1 against 20 a day: 20 allowed, every one after the
    // 10th at or above 50 %, every one after the 16th at or above 80 %.
    assert_eq!(
        allocate_concurrently(&clients, &parent, "exports", 40, 20).await,
        20
    );

    let seen = events(&mut stream, 2).await;
    let today = format!("d{}", chrono::Utc::now().format("%Y%m%d"));
    let mut by_threshold = BTreeMap::new();
    for event in &seen {
        assert_eq!(event.short_type(), "quota.threshold_crossed");
        assert_eq!(event.attribute("subject").as_deref(), Some(parent.as_str()));
        let data = event.data();
        assert_eq!(data["quota"], "exports", "{data}");
        assert_eq!(data["period"], today.as_str(), "{data}");
        assert_eq!(data["limit"], 20, "{data}");
        let threshold = data["threshold_percent"].as_i64().expect("a threshold");
        let used = data["used"].as_i64().expect("usage");
        assert!(used * 100 >= 20 * threshold && used <= 20, "{data}");
        assert!(
            by_threshold.insert(threshold, event.sequence).is_none(),
            "{seen:?}"
        );
    }
    assert_eq!(by_threshold.keys().copied().collect::<Vec<_>>(), [50, 80]);

    // More calls at 100 %, on both replicas, announce nothing again; nor
    // has the RATE quota announced anything.
    assert_eq!(
        allocate_concurrently(&clients, &parent, "exports", 10, 20).await,
        0
    );
    assert_eq!(used(&mut quotas(&first), &parent, "exports").await, 20);
    no_event_within(&mut stream, Duration::from_secs(2)).await;

    if let Some(second) = second {
        second.stop().await;
    }
    first.stop().await;
}

crate::limiter_tests!(periodic_thresholds_are_announced_once_per_period);
