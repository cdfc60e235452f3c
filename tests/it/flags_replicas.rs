//! Flags across replicas, on PostgreSQL: two `tenantd` processes give every
//! targeting key the same rollout bucket, call after call; a change made on
//! one replica reaches the other's cached answers at once, though its cache
//! would keep them an hour; and a warm evaluation reads no row at all.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database, TransactionTrait};
use serde_json::json;
use tenantd::pb;
use tenantd::pb::tenant_service_client::TenantServiceClient;
use tonic::transport::Channel;

use crate::process::{free_port, tenantd, wait_until_serving};
use crate::support::db::{TestDatabase, postgres_available};
use crate::support::fixtures::create;
use crate::support::flags::{
    Configs, admin, boolean_flag, context, create_flag, evaluate, outcome, rollout,
};
use crate::support::server::{ADMIN_TOKEN, Credentials};
use crate::support::{Backend, TestServer};

use pb::EvaluationReason as R;

/// A `tenantd serve` process on `database`, already migrated, and a
/// channel to it.
async fn replica(database: &TestDatabase) -> (Child, Channel) {
    let port = free_port();
    let mut child = tenantd()
        .args([
            "serve",
            "--no-migrate",
            "--listen-addr",
            &format!("127.0.0.1:{port}"),
        ])
        .env("TENANTD_DATABASE_URL", &database.url)
        .env("TENANTD_ADMIN_TOKENS", format!("ops={ADMIN_TOKEN}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tenantd");
    wait_until_serving(port, &mut child).await;
    let channel = crate::process::connect(port).await;
    (child, channel)
}

/// The variants `client` serves the first `count` users of `tenant`.
async fn variants(client: &mut Configs, tenant: &str, count: usize) -> Vec<String> {
    let mut served = Vec::with_capacity(count);
    for index in 0..count {
        let user = context(&format!("user-{index}"), json!({}));
        let answer = evaluate(client, tenant, "gradual", user).await;
        assert_eq!(answer.reason(), R::Split);
        served.push(answer.variant);
    }
    served
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_put_every_key_in_the_same_bucket() {
    if !postgres_available().await {
        return;
    }
    let database = TestDatabase::create(Backend::Postgres).await;
    database.migrate_as_owner().await;
    let (mut first_process, first_channel) = replica(&database).await;
    let (mut second_process, second_channel) = replica(&database).await;
    let mut first = admin(&first_channel);
    let mut second = admin(&second_channel);
    let mut flag = boolean_flag(Vec::new());
    flag.default_rollout = Some(rollout(&[("on", 25), ("off", 75)], "", ""));
    create_flag(&mut first, "gradual", flag).await;
    let mut tenants =
        TenantServiceClient::with_interceptor(first_channel, Credentials::bearer(ADMIN_TOKEN));
    let tenant = create(&mut tenants, "two-processes").await.name;

    let on_first = variants(&mut first, &tenant, 200).await;
    assert_eq!(variants(&mut first, &tenant, 200).await, on_first);
    assert_eq!(variants(&mut second, &tenant, 200).await, on_first);
    let served_on = on_first.iter().filter(|variant| *variant == "on").count();
    assert!((20..=80).contains(&served_on), "{served_on} of 200 on");

    for process in [&mut first_process, &mut second_process] {
        process.kill().expect("stop tenantd");
        let _ = process.wait();
    }
    database.drop_database().await;
}

/// Polls `client` until `flag` for `tenant` answers `expected`.
async fn until_served(client: &mut Configs, tenant: &str, expected: (&str, R)) -> Duration {
    let start = Instant::now();
    loop {
        let answer = evaluate(client, tenant, "cached", context("u", json!({}))).await;
        if outcome(&answer) == (expected.0.to_owned(), expected.1) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "still {answer:?} after a second, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_reach_the_other_replicas_cache_at_once() {
    let Some((first, second)) = TestServer::replicas_with_long_cache().await else {
        return;
    };
    let mut operator = admin(&first.channel);
    let mut watcher = admin(&second.channel);
    let tenant = create(&mut first.tenants(), "cached-flags").await.name;
    let flag = create_flag(&mut operator, "cached", boolean_flag(Vec::new())).await;
    until_served(&mut watcher, &tenant, ("off", R::Static)).await;

    operator
        .update_flag(pb::UpdateFlagRequest {
            flag: Some(pb::Flag {
                name: flag.name.clone(),
                enabled: false,
                ..Default::default()
            }),
            update_mask: crate::support::fixtures::mask(&["enabled"]),
        })
        .await
        .expect("disable the flag");
    let took = until_served(&mut watcher, &tenant, ("off", R::Disabled)).await;
    eprintln!("a flag change reached the other replica in {took:?}");

    operator
        .set_flag_override(pb::SetFlagOverrideRequest {
            flag_override: Some(pb::FlagOverride {
                name: format!("{tenant}/flagOverrides/cached"),
                enabled: Some(true),
                variant: "on".into(),
                ..Default::default()
            }),
        })
        .await
        .expect("override for the tenant");
    let took = until_served(&mut watcher, &tenant, ("on", R::TargetingMatch)).await;
    eprintln!("a tenant override reached the other replica in {took:?}");
    second.stop().await;
    first.stop().await;
}

/// With every table evaluation could read locked by another transaction,
/// a warm EvaluateFlags still answers: it reads no row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_evaluation_reads_no_row() {
    if !postgres_available().await {
        return;
    }
    let server = TestServer::start(Backend::Postgres).await;
    let mut client = admin(&server.channel);
    let tenant = create(&mut server.tenants(), "warm").await.name;
    let cold = create(&mut server.tenants(), "cold").await.name;
    create_flag(&mut client, "cached", boolean_flag(Vec::new())).await;
    let warm = evaluate(&mut client, &tenant, "cached", context("u", json!({}))).await;
    assert_eq!(outcome(&warm), ("off".into(), R::Static));
    // An operator naming the tenant by slug is answered from the cache too.
    let by_slug = "tenants/slug:warm";
    let warm_by_slug = evaluate(&mut client, by_slug, "cached", context("u", json!({}))).await;
    assert_eq!(warm_by_slug, warm);

    let owner = Database::connect(server.database_url.as_str())
        .await
        .expect("connect as the owner");
    let locks = owner.begin().await.expect("begin");
    locks
        .execute_unprepared(
            "LOCK TABLE tenants, api_keys, plans, flags, plan_flag_overrides, \
             tenant_flag_overrides IN ACCESS EXCLUSIVE MODE",
        )
        .await
        .expect("lock the tables");
    let answer = tokio::time::timeout(
        Duration::from_secs(2),
        evaluate(&mut client, &tenant, "cached", context("u", json!({}))),
    )
    .await
    .expect("a warm evaluation waits on no lock");
    assert_eq!(answer, warm);
    let answer = tokio::time::timeout(
        Duration::from_secs(2),
        evaluate(&mut client, by_slug, "cached", context("u", json!({}))),
    )
    .await
    .expect("a warm evaluation by slug waits on no lock");
    assert_eq!(answer, warm);
    // The control: a tenant not cached yet must read its rows, and waits.
    let mut other = admin(&server.channel);
    let waiting = tokio::time::timeout(
        Duration::from_millis(500),
        evaluate(&mut other, &cold, "cached", context("u", json!({}))),
    )
    .await;
    assert!(waiting.is_err(), "a cold evaluation read through the locks");
    locks.rollback().await.expect("release the locks");
    server.stop().await;
}
