//! Soft thresholds and grace: answers that still allow a call warn as
//! usage climbs, say which call crossed each line, and GetQuotaStatus shows
//! the same warnings without claiming anything was newly crossed. Shadow
//! mode: a quota that counts, warns, and never refuses.

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

/// A shadow RATE quota of 2 a minute and an enforced one beside it: every
/// call is allowed and charged on both until the enforced one refuses; the
/// shadow one says which charges it would have refused.
async fn shadow_quotas_warn_and_never_refuse(counters: Counters) {
    use pb::QuotaWarningKind::ShadowExceeded;
    let server = start(counters).await;
    let per_minute = |key: &str, limit: i64, shadow: bool| pb::QuotaDefinition {
        period: pb::QuotaPeriod::Minute.into(),
        algorithm: pb::RateLimitAlgorithm::SlidingWindow.into(),
        shadow,
        ..definition(key, pb::QuotaKind::Rate, limit)
    };
    let parent = tenant_on_plan(
        &server,
        "trial",
        vec![
            per_minute("tried", 2, true),
            per_minute("enforced", 4, false),
        ],
    )
    .await;
    let mut client = quotas(&server);
    let pairs = [("tried", 1), ("enforced", 1)];
    for call in 1..=4 {
        let answer = allocate(
            &mut client,
            &parent,
            &pairs,
            pb::QuotaMode::AllOrNothing,
            "",
        )
        .await
        .unwrap_or_else(|status| panic!("call {call} refused: {status:?}"));
        let tried = &answer.results[0];
        assert!(tried.allowed, "call {call}: {tried:?}");
        let expected: Seen = if call > 2 {
            vec![(ShadowExceeded, 0, true)]
        } else {
            vec![]
        };
        assert_eq!(seen(tried), expected, "call {call}");
        assert_eq!(seen(&answer.results[1]), vec![], "call {call}");
    }
    // The enforced quota refuses; the shadow one charged every allowed call.
    let status = allocate(
        &mut client,
        &parent,
        &pairs,
        pb::QuotaMode::AllOrNothing,
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(crate::quota::used(&mut client, &parent, "tried").await, 4);
    // A check-only call says what would happen, shadow warning included.
    let answer = allocate(
        &mut client,
        &parent,
        &[("tried", 1)],
        pb::QuotaMode::CheckOnly,
        "",
    )
    .await
    .expect("check only");
    assert!(answer.results[0].allowed);
    assert_eq!(seen(&answer.results[0]), vec![(ShadowExceeded, 0, true)]);
    server.stop().await;
}

crate::limiter_tests!(
    thresholds_and_grace_warn_once,
    shadow_quotas_warn_and_never_refuse
);
