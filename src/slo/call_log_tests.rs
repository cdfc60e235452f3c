//! The call log's bookkeeping: minutes counted apart, written, forgotten
//! only once ended and written, bounded while the database is away.

use std::time::Duration;

use super::*;

const MINUTE: i64 = 29_000_000;

fn tenant() -> TenantId {
    TenantId::from_uuid(uuid::Uuid::now_v7())
}

fn fast() -> Duration {
    Duration::from_millis(2)
}

#[test]
fn calls_are_counted_per_tenant_and_minute() {
    let log = CallLog::new();
    let (a, b) = (tenant(), tenant());
    log.record_at(a, MINUTE, false, fast());
    log.record_at(a, MINUTE, true, fast());
    log.record_at(a, MINUTE + 1, false, fast());
    log.record_at(b, MINUTE, false, fast());
    let pending = log.pending(a);
    let minutes: Vec<i64> = pending.iter().map(|(minute, _)| *minute).collect();
    assert_eq!(minutes, [MINUTE, MINUTE + 1]);
    assert_eq!((pending[0].1.requests, pending[0].1.failures), (2, 1));
    assert_eq!(log.pending(b)[0].1.requests, 1);
    assert_eq!(log.unwritten().len(), 3);
}

#[test]
fn ended_minutes_are_forgotten_once_written_and_not_before() {
    let log = CallLog::new();
    let a = tenant();
    log.record_at(a, MINUTE, false, fast());
    log.record_at(a, MINUTE + 1, false, fast());
    let snapshot = log.unwritten();
    // A call lands between the snapshot and its write.
    log.record_at(a, MINUTE, false, fast());
    log.written(&snapshot, MINUTE + 1);
    let left = log.unwritten();
    assert_eq!(left.len(), 1, "only the changed minute is left to write");
    assert_eq!((left[0].minute, left[0].counts.requests), (MINUTE, 2));
    log.written(&left, MINUTE + 1);
    assert!(log.unwritten().is_empty());
    // The ended minute is gone; the current one stays, running.
    let pending = log.pending(a);
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].0, MINUTE + 1);
    log.record_at(a, MINUTE + 1, false, fast());
    assert_eq!(log.unwritten()[0].counts.requests, 2, "running totals");
}

#[test]
fn a_failed_write_keeps_everything() {
    let log = CallLog::new();
    let a = tenant();
    log.record_at(a, MINUTE, false, fast());
    let _lost = log.unwritten();
    log.written(&[], MINUTE + 3);
    assert_eq!(log.unwritten().len(), 1);
    assert_eq!(log.pending(a).len(), 1);
}

#[test]
fn an_unreachable_database_costs_the_oldest_minutes_not_memory() {
    let log = CallLog::new();
    let a = tenant();
    let minutes = i64::try_from(MINUTES_KEPT).expect("small") + 3;
    for offset in 0..minutes {
        log.record_at(a, MINUTE + offset, false, fast());
    }
    let pending = log.pending(a);
    assert_eq!(pending.len(), MINUTES_KEPT);
    assert_eq!(pending[0].0, MINUTE + 3, "the oldest gave way");
    assert_eq!(log.take_dropped(), 3);
    assert_eq!(log.take_dropped(), 0);
}

#[test]
fn a_clock_set_back_counts_in_the_newest_minute() {
    let log = CallLog::new();
    let a = tenant();
    log.record_at(a, MINUTE, false, fast());
    log.record_at(a, MINUTE + 2, false, fast());
    let written = log.unwritten();
    log.written(&written, MINUTE + 2);
    // MINUTE ended and was written, so it is forgotten; a call stamped
    // with it must not reopen it with smaller totals.
    log.record_at(a, MINUTE, false, fast());
    let pending = log.pending(a);
    assert_eq!(pending.len(), 1);
    assert_eq!((pending[0].0, pending[0].1.requests), (MINUTE + 2, 2));
}

#[test]
fn idle_tenants_are_forgotten_once_written() {
    let log = CallLog::new();
    let a = tenant();
    log.record_at(a, MINUTE, false, fast());
    let written = log.unwritten();
    log.written(&written, MINUTE + 1);
    assert_eq!(log.tenants(), 1, "recently active: its entry stays");
    log.written(&[], MINUTE + IDLE_MINUTES);
    assert_eq!(log.tenants(), 0);
}

#[test]
fn calls_without_a_tenant_are_not_counted() {
    let log = CallLog::new();
    let a = tenant();
    let call = |tenant: Option<TenantId>, code| CallOutcome {
        service: "tenantd.v1.QuotaService",
        method: "CheckQuota",
        code,
        tenant,
        latency: Duration::from_millis(30),
    };
    log.record(&call(None, tonic::Code::Internal));
    log.record(&call(Some(a), tonic::Code::Unavailable));
    log.record(&call(Some(a), tonic::Code::InvalidArgument));
    assert_eq!(log.tenants(), 1);
    let counts = log.pending(a)[0].1;
    assert_eq!((counts.requests, counts.failures), (2, 1));
}

#[test]
fn a_poisoned_shard_keeps_counting() {
    let log = CallLog::new();
    let a = tenant();
    let poisoner = log.clone();
    let _ = std::thread::spawn(move || {
        let _guard = poisoner.shard(a);
        panic!("poison the shard");
    })
    .join();
    log.record_at(a, MINUTE, false, fast());
    assert_eq!(log.pending(a)[0].1.requests, 1);
}

#[test]
fn replicas_have_ids_of_their_own() {
    assert_ne!(CallLog::new().replica(), CallLog::new().replica());
}
