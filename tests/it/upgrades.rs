//! What a rolling upgrade and a rollback need from a `tenantd` process: it
//! serves a database that a newer release migrated, refuses one whose
//! migrations are out of order, and drains as a Kubernetes probe sees it
//! (readiness NOT_SERVING at once while calls are still accepted for the
//! drain delay, liveness SERVING throughout).

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database};
use tenantd::pb::tenant_service_client::TenantServiceClient;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::process::{free_port, tenantd, wait_until_serving};
use crate::support::Backend;
use crate::support::db::{TestDatabase, postgres_available};
use crate::support::fixtures::{create, name_request};
use crate::support::server::{ADMIN_TOKEN, Credentials};

/// A migration a newer release applied: it expands the schema (a column
/// this release does not know) and records itself.
const NEWER: &str = "m9999_from_a_newer_release";

async fn owner(database: &TestDatabase) -> sea_orm::DatabaseConnection {
    Database::connect(&database.owner_url)
        .await
        .expect("connect as the owner")
}

/// Migrates `database` with this build, then as a newer release would.
async fn migrate_as_newer_release(database: &TestDatabase) {
    database.migrate_as_owner().await;
    let db = owner(database).await;
    db.execute_unprepared("ALTER TABLE tenants ADD COLUMN newer_release_note TEXT")
        .await
        .expect("expand the schema");
    db.execute_unprepared(&format!(
        "INSERT INTO seaql_migrations (version, applied_at) VALUES ('{NEWER}', 0)"
    ))
    .await
    .expect("record the newer migration");
    let _ = db.close().await;
}

fn serve(database: &TestDatabase, port: u16, extra: &[&str]) -> Child {
    tenantd()
        .args(["serve", "--listen-addr", &format!("127.0.0.1:{port}")])
        .args(extra)
        .env("TENANTD_DATABASE_URL", &database.url)
        .env("TENANTD_MIGRATION_DATABASE_URL", &database.owner_url)
        .env("TENANTD_ADMIN_TOKENS", format!("ops={ADMIN_TOKEN}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tenantd")
}

async fn channel(port: u16) -> Channel {
    crate::process::connect(port).await
}

async fn serves_a_newer_schema(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    migrate_as_newer_release(&database).await;

    let migrate = tenantd()
        .arg("migrate")
        .env("TENANTD_DATABASE_URL", &database.owner_url)
        .output()
        .expect("run tenantd migrate");
    assert!(
        migrate.status.success(),
        "tenantd migrate on a newer schema: {}",
        String::from_utf8_lossy(&migrate.stdout)
    );

    for flags in [&[][..], &["--no-migrate"][..]] {
        let port = free_port();
        let mut child = serve(&database, port, flags);
        wait_until_serving(port, &mut child).await;
        let mut client = TenantServiceClient::with_interceptor(
            channel(port).await,
            Credentials::bearer(ADMIN_TOKEN),
        );
        let slug = format!("after-upgrade-{}", flags.len());
        let tenant = create(&mut client, &slug).await;
        let read = client
            .get_tenant(name_request(&tenant.name))
            .await
            .expect("read the tenant back")
            .into_inner();
        assert_eq!(read.slug, slug);
        child.kill().expect("stop tenantd");
        let _ = child.wait();
    }
    database.drop_database().await;
}

#[tokio::test]
async fn an_older_release_serves_a_database_a_newer_one_migrated_sqlite() {
    serves_a_newer_schema(Backend::Sqlite).await;
}

#[tokio::test]
async fn an_older_release_serves_a_database_a_newer_one_migrated_postgres() {
    if !postgres_available().await {
        return;
    }
    serves_a_newer_schema(Backend::Postgres).await;
}

#[tokio::test]
async fn migrations_out_of_order_are_refused_and_nothing_is_applied() {
    let database = TestDatabase::create(Backend::Sqlite).await;
    migrate_as_newer_release(&database).await;
    let db = owner(&database).await;
    let last: String = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            format!(
                "SELECT max(version) AS version FROM seaql_migrations WHERE version <> '{NEWER}'"
            ),
        ))
        .await
        .expect("read the last migration")
        .expect("a row")
        .try_get("", "version")
        .expect("a version");
    db.execute_unprepared(&format!(
        "DELETE FROM seaql_migrations WHERE version = '{last}'"
    ))
    .await
    .expect("forget one migration");

    for command in [
        &["migrate"][..],
        &["serve", "--listen-addr", "127.0.0.1:0"][..],
    ] {
        let refused = tenantd()
            .args(command)
            .env("TENANTD_DATABASE_URL", &database.url)
            .output()
            .expect("run tenantd");
        assert!(!refused.status.success(), "{command:?} accepted the schema");
        let logs = String::from_utf8_lossy(&refused.stdout);
        assert!(
            logs.contains("MIGRATIONS_OUT_OF_ORDER")
                || logs.contains(NEWER) && logs.contains(&last),
            "{command:?}: {logs}"
        );
    }
    let count: i64 = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            format!("SELECT count(*) AS n FROM seaql_migrations WHERE version = '{last}'"),
        ))
        .await
        .expect("count")
        .expect("a row")
        .try_get("", "n")
        .expect("a count");
    assert_eq!(count, 0, "the forgotten migration was not re-applied");
    let _ = db.close().await;
    database.drop_database().await;
}

async fn status(channel: Channel, service: &str) -> i32 {
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .expect("health check")
        .into_inner()
        .status
}

#[tokio::test]
async fn a_draining_replica_is_unready_but_alive_and_still_accepts_calls() {
    const SERVING: i32 = 1;
    const NOT_SERVING: i32 = 2;
    let database = TestDatabase::create(Backend::Sqlite).await;
    let port = free_port();
    let mut child = serve(&database, port, &["--drain-delay-seconds", "3"]);
    wait_until_serving(port, &mut child).await;
    assert_eq!(status(channel(port).await, "liveness").await, SERVING);

    let terminated = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(terminated.success());
    let signalled = Instant::now();
    // Readiness turns at once; a new connection is still accepted and
    // answered during the drain delay; liveness stays SERVING.
    let deadline = signalled + Duration::from_secs(2);
    loop {
        let fresh = channel(port).await;
        if status(fresh.clone(), "").await == NOT_SERVING {
            assert_eq!(status(fresh, "liveness").await, SERVING);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "readiness never turned NOT_SERVING"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        child.try_wait().expect("poll").is_none(),
        "the replica exited before its drain delay"
    );
    let exit_deadline = signalled + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll") {
            break status;
        }
        assert!(Instant::now() < exit_deadline, "the replica did not exit");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
    assert!(
        signalled.elapsed() >= Duration::from_secs(3),
        "exited before the drain delay ended"
    );
    database.drop_database().await;
}
