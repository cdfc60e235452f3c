//! Soft thresholds and grace: answers that still allow a call warn as
//! usage climbs, say which call crossed each line, and GetQuotaStatus shows
//! the same warnings without claiming anything was newly crossed.

use tenantd::pb;
use tonic::Code;

use crate::quota::{Counters, allocate, definition, quotas, start, tenant_on_plan};

/// (kind, threshold, newly crossed) of each warning.
type Seen = Vec<(pb::QuotaWarningKind, i32, bool)>;

fn seen(result: &pb::QuotaResult) -> Seen {
    result
        .warnings
        .iter()
        .map(|warning| {
            (
                warning.kind(),
                warning.threshold_percent,
                warning.newly_crossed,
            )
        })
        .collect()
}

async fn thresholds_and_grace_warn_once(counters: Counters) {
    use pb::QuotaWarningKind::{Grace, Threshold};
    let server = start(counters).await;
    let seats = pb::QuotaDefinition {
        warning_threshold_percents: vec![50, 80],
        grace_percent: 20,
        ..definition("seats", pb::QuotaKind::Allocation, 10)
    };
    let parent = tenant_on_plan(&server, "seated", vec![seats]).await;
    let mut client = quotas(&server);
    let steps: [(i64, Seen); 6] = [
        (4, vec![]),
        (1, vec![(Threshold, 50, true)]),
        (1, vec![(Threshold, 50, false)]),
        (2, vec![(Threshold, 80, true)]),
        (3, vec![(Threshold, 80, false), (Grace, 0, true)]),
        (1, vec![(Threshold, 80, false), (Grace, 0, false)]),
    ];
    for (cost, expected) in steps {
        let answer = allocate(
            &mut client,
            &parent,
            &[("seats", cost)],
            pb::QuotaMode::AllOrNothing,
            "",
        )
        .await
        .expect("within limit and grace");
        assert_eq!(seen(&answer.results[0]), expected, "after {cost} more");
    }
    // 12 used: the limit 10 plus its 20 % grace is full.
    let over = allocate(
        &mut client,
        &parent,
        &[("seats", 1)],
        pb::QuotaMode::AllOrNothing,
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(over.code(), Code::ResourceExhausted);
    let status = client
        .get_quota_status(pb::GetQuotaStatusRequest {
            parent: parent.clone(),
            quotas: vec!["seats".to_owned()],
        })
        .await
        .expect("status")
        .into_inner();
    let kinds: Vec<(pb::QuotaWarningKind, bool)> = status.quotas[0]
        .warnings
        .iter()
        .map(|warning| (warning.kind(), warning.newly_crossed))
        .collect();
    assert_eq!(kinds, [(Threshold, false), (Grace, false)]);
    server.stop().await;
}

crate::limiter_tests!(thresholds_and_grace_warn_once);
