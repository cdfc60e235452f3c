//! Several replicas on one database: a replica's flushes replace its own
//! rows, so repeating one counts nothing twice, while replicas' rows add
//! up; each replica answers GetTenantHealth with every replica's calls
//! (on PostgreSQL: SQLite is one process's embedded database); and
//! `tenantd tenants health` prints the flushed figures, the last ones
//! written at shutdown.

use std::time::Duration;

use tenantd::common::ids::TenantId;
use tenantd::quota::Plans;
use tenantd::settings::Config;
use tenantd::slo::call_log::current_minute;
use tenantd::slo::flush::{RETENTION_MINUTES, flush, purge};
use tenantd::slo::{CallLog, ServiceLevels};
use tenantd::store::{PoolOptions, Store};
use tonic::Code;

use super::{
    check_quota, create_plan, fail_closed, get_tenant, issue_key, tenant_on, until_counted,
};
use crate::process::tenantd;
use crate::quota_failure::PrivateRedis;
use crate::support::db::{TestDatabase, postgres_available};
use crate::support::{Backend, TestServer};

crate::backend_tests!(
    flushes_replace_a_replicas_rows_and_replicas_add_up,
    the_cli_prints_the_flushed_figures,
);

/// The day window's (requests, failures) of `tenant_id`, from the stored
/// rows alone.
async fn stored_day(store: &Store, tenant_id: TenantId) -> (u64, u64) {
    let levels = ServiceLevels::stored(store.clone(), Plans::new(store.clone()));
    let health = levels.health(tenant_id, "starter").await.expect("health");
    let day = &health.windows[1];
    (day.counts.requests, day.counts.failures)
}

async fn flushes_replace_a_replicas_rows_and_replicas_add_up(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    database.migrate_as_owner().await;
    let store = Store::connect(&database.url, &PoolOptions::default())
        .await
        .expect("connect as the application");
    let tenant_id = TenantId::from_uuid(uuid::Uuid::now_v7());
    let (first, second) = (CallLog::new(), CallLog::new());
    let now = current_minute();
    let fast = Duration::from_millis(4);
    for failed in [false, false, true] {
        first.record_at(tenant_id, now, failed, fast);
    }
    assert_eq!(flush(&first, &store).await.expect("flush"), 1);
    assert_eq!(
        flush(&first, &store).await.expect("again"),
        0,
        "nothing changed"
    );
    assert_eq!(stored_day(&store, tenant_id).await, (3, 1));
    // Running totals: the next flush replaces the row, it does not add.
    first.record_at(tenant_id, now, false, fast);
    flush(&first, &store).await.expect("flush");
    assert_eq!(stored_day(&store, tenant_id).await, (4, 1));
    // Another replica's rows of the same minute add up.
    second.record_at(tenant_id, now, true, fast);
    flush(&second, &store).await.expect("flush");
    assert_eq!(stored_day(&store, tenant_id).await, (5, 2));

    // Minutes past retention go; the others stay.
    // (A replica that has counted a newer minute counts an older one in
    // the newer: a clock set back must not reopen a forgotten minute.)
    let old = CallLog::new();
    old.record_at(tenant_id, now - RETENTION_MINUTES - 1, false, fast);
    flush(&old, &store).await.expect("flush the old minute");
    assert_eq!(purge(&store, now).await.expect("purge"), 1);
    assert_eq!(purge(&store, now).await.expect("purge again"), 0);
    assert_eq!(stored_day(&store, tenant_id).await, (5, 2));
    store.close().await.expect("close");
    database.drop_database().await;
}

/// Flushes every 100 ms.
fn flush_often(config: &mut Config) {
    config.tenant_health_flush_interval = Duration::from_millis(100);
}

/// `tenantd tenants health <args>` on `database`: its table, split into
/// words, line by line.
fn cli_table(database: &TestDatabase, args: &[&str]) -> Vec<Vec<String>> {
    let output = tenantd()
        .args(["tenants", "health"])
        .args(args)
        .env("TENANTD_DATABASE_URL", &database.url)
        .output()
        .expect("run tenantd tenants health");
    assert!(output.status.success(), "{output:?}");
    let table = String::from_utf8(output.stdout).expect("UTF-8");
    table
        .lines()
        .map(|line| line.split_whitespace().map(str::to_owned).collect())
        .collect()
}

/// The line of `table` for `tenant` and `window`, after the two.
fn line<'a>(table: &'a [Vec<String>], tenant: &str, window: &str) -> &'a [String] {
    table
        .iter()
        .find(|words| words.len() > 2 && words[0] == tenant && words[1] == window)
        .map(|words| &words[2..])
        .unwrap_or_else(|| panic!("no line for {tenant} {window} in {table:?}"))
}

/// Two replicas on one PostgreSQL database, the second's quota checks
/// failing: each answers with both replicas' calls once the other flushed,
/// and the command prints their sum.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_on_one_postgres_database_are_summed() {
    if !postgres_available().await {
        return;
    }
    let Some(mut redis) = PrivateRedis::start() else {
        return;
    };
    // Owned by the test, so the servers leave it in place when they stop.
    let database = TestDatabase::create(Backend::Postgres).await;
    let first = TestServer::start_on(&database, flush_often).await;
    let second = TestServer::start_on(&database, |config| {
        flush_often(config);
        fail_closed(config, &redis);
    })
    .await;
    create_plan(&first, "replicated").await;
    let tenant = tenant_on(&first, "replicated", "replicated", None).await;
    let key = issue_key(&first, &tenant.name, &["tenant:read", "quota:check"]).await;
    for _ in 0..3 {
        get_tenant(&first, &key, &tenant.name)
            .await
            .expect("read on the first");
    }
    for _ in 0..4 {
        get_tenant(&second, &key, &tenant.name)
            .await
            .expect("read on the second");
    }
    redis.stop();
    for _ in 0..2 {
        let failed = check_quota(&second, &key, &tenant.name).await.unwrap_err();
        assert_eq!(failed.code(), Code::Unavailable, "{failed:?}");
    }

    for server in [&first, &second] {
        let health = until_counted(server, &tenant.name, 9).await;
        for window in &health.windows {
            assert_eq!((window.requests, window.failures), (9, 2), "{window:?}");
            let availability = window.availability.expect("the plan's objectives");
            assert!(!availability.met, "{availability:?}");
        }
    }
    first.stop().await;
    second.stop().await;
    let table = cli_table(&database, &[]);
    for window in ["1h", "1d"] {
        let figures = line(&table, "replicated", window);
        assert_eq!(figures[..3], ["9", "2", "22.22%"], "{figures:?}");
        assert_eq!(figures[4..], ["no", "(availability)"], "{figures:?}");
    }
    database.drop_database().await;
}

/// One replica at the default flush interval: what it counted is written
/// when it stops, and the command lists the tenants with the most failures
/// first, or the ones it names.
async fn the_cli_prints_the_flushed_figures(backend: Backend) {
    let Some(mut redis) = PrivateRedis::start() else {
        return;
    };
    let database = TestDatabase::create(backend).await;
    let server = TestServer::start_on(&database, |config| fail_closed(config, &redis)).await;
    create_plan(&server, "listed").await;
    let failing = tenant_on(&server, "listed", "failing", None).await;
    let healthy = tenant_on(&server, "listed", "healthy", None).await;
    tenant_on(&server, "listed", "quiet", None).await;
    let failing_key = issue_key(&server, &failing.name, &["quota:check"]).await;
    let healthy_key = issue_key(&server, &healthy.name, &["tenant:read"]).await;
    check_quota(&server, &failing_key, &failing.name)
        .await
        .expect("Redis answers");
    for _ in 0..5 {
        get_tenant(&server, &healthy_key, &healthy.name)
            .await
            .expect("read the tenant");
    }
    redis.stop();
    for _ in 0..3 {
        let refused = check_quota(&server, &failing_key, &failing.name).await;
        assert_eq!(refused.unwrap_err().code(), Code::Unavailable);
    }
    server.stop().await;

    let busiest = cli_table(&database, &[]);
    assert_eq!(
        busiest[0],
        [
            "TENANT",
            "WINDOW",
            "REQUESTS",
            "FAILURES",
            "ERROR",
            "RATIO",
            "P99",
            "OBJECTIVES",
            "MET"
        ]
    );
    let tenants: Vec<&str> = busiest[1..].iter().map(|words| words[0].as_str()).collect();
    assert_eq!(
        tenants,
        ["failing", "failing", "healthy", "healthy"],
        "the most failures first; a tenant without calls is not listed"
    );
    for window in ["1h", "1d"] {
        let failing_figures = line(&busiest, "failing", window);
        assert_eq!(
            failing_figures[..3],
            ["4", "3", "75.00%"],
            "{failing_figures:?}"
        );
        assert_eq!(failing_figures[4..], ["no", "(availability)"]);
        let healthy_figures = line(&busiest, "healthy", window);
        assert_eq!(
            healthy_figures[..3],
            ["5", "0", "0.00%"],
            "{healthy_figures:?}"
        );
        assert_eq!(healthy_figures[4..], ["yes"]);
    }
    // Named, in any form a tenant name takes, in the order named.
    let named = cli_table(
        &database,
        &["slug:quiet", &failing.id, "tenants/slug:healthy"],
    );
    let tenants: Vec<&str> = named[1..].iter().map(|words| words[0].as_str()).collect();
    assert_eq!(
        tenants,
        ["quiet", "quiet", "failing", "failing", "healthy", "healthy"]
    );
    assert_eq!(line(&named, "quiet", "1d"), ["0", "0", "0.00%", "-", "yes"]);
    let unknown = tenantd()
        .args(["tenants", "health", "slug:nobody"])
        .env("TENANTD_DATABASE_URL", &database.url)
        .output()
        .expect("run tenantd tenants health");
    assert!(
        !unknown.status.success(),
        "an unknown tenant fails the command"
    );
    database.drop_database().await;
}
