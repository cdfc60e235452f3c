//! Provisioning needs no superuser: a database owned by a login role with
//! only `CREATEROLE` (no SUPERUSER, no CREATEDB) migrates, provisions a
//! SCHEMA tenant and, through `tenantd tenants purge --now`, removes it
//! again, leaving no schema or role; and a role without CREATEROLE makes
//! SCHEMA tenants FAILED with the database's refusal as the reason, while
//! POOL tenants are unaffected.

use sea_orm::{ConnectionTrait, TransactionTrait};
use tenantd::pb;

use crate::process::tenantd;
use crate::provisioning::create_with;
use crate::support::db::{
    ROLE_SETUP_LOCK, TestDatabase, admin, create_role_if_missing, postgres_available, with_userinfo,
};
use crate::support::fixtures::name_request;
use crate::support::schemas::{connect, role_exists, schema_exists, schema_of};
use crate::support::{Backend, TestServer};

/// The owner role of this test's database: CREATEROLE, nothing more.
const OWNER_ROLE: &str = "tenantd_test_owner";

/// Makes `database` owned by [`OWNER_ROLE`] and answers that role's URL.
async fn hand_over(database: &TestDatabase) -> String {
    let name = database
        .owner_url
        .rsplit_once('/')
        .map(|(_, name)| name.to_owned())
        .expect("a database name");
    let connection = admin().await.expect("connect as the admin");
    let txn = connection.begin().await.expect("begin");
    for statement in [
        format!("SELECT pg_advisory_xact_lock({ROLE_SETUP_LOCK})"),
        create_role_if_missing(OWNER_ROLE, "LOGIN"),
        format!(
            "ALTER ROLE {OWNER_ROLE} LOGIN NOSUPERUSER CREATEROLE NOCREATEDB NOBYPASSRLS \
             PASSWORD '{OWNER_ROLE}'"
        ),
        format!("ALTER DATABASE \"{name}\" OWNER TO {OWNER_ROLE}"),
    ] {
        txn.execute_unprepared(&statement)
            .await
            .unwrap_or_else(|error| panic!("{statement}: {error}"));
    }
    txn.commit().await.expect("commit");
    connection.close().await.ok();
    with_userinfo(&database.owner_url, &format!("{OWNER_ROLE}:{OWNER_ROLE}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_createrole_owner_provisions_and_purges_without_superuser() {
    if !postgres_available().await {
        return;
    }
    let database = TestDatabase::create(Backend::Postgres).await;
    let owner_url = hand_over(&database).await;
    let url = owner_url.clone();
    let server = TestServer::start_on(&database, move |config| {
        config.migration_database_url = url;
    })
    .await;
    let mut client = server.tenants();
    let tenant = create_with(
        &mut client,
        "humble",
        "professional",
        pb::IsolationModel::Unspecified,
    )
    .await
    .expect("create");
    assert_eq!(tenant.state(), pb::TenantState::Active, "{tenant:?}");
    assert_eq!(tenant.template_version, 2);
    let catalogue = connect(&database.owner_url).await;
    let schema = schema_of(&tenant.id);
    assert!(schema_exists(&catalogue, &schema).await);
    assert!(role_exists(&catalogue, &schema).await);

    let not_deleted = tenantd()
        .args(["tenants", "purge", "--now", &tenant.id])
        .env("TENANTD_DATABASE_URL", &database.url)
        .env("TENANTD_MIGRATION_DATABASE_URL", &owner_url)
        .output()
        .expect("run tenantd tenants purge");
    assert!(!not_deleted.status.success(), "a live tenant is not purged");
    assert!(schema_exists(&catalogue, &schema).await);

    client
        .delete_tenant(pb::DeleteTenantRequest {
            name: tenant.name.clone(),
            ..Default::default()
        })
        .await
        .expect("delete");
    let purged = tenantd()
        .args(["tenants", "purge", "--now", &tenant.id])
        .env("TENANTD_DATABASE_URL", &database.url)
        .env("TENANTD_MIGRATION_DATABASE_URL", &owner_url)
        .output()
        .expect("run tenantd tenants purge");
    assert!(purged.status.success(), "{purged:?}");
    assert!(!schema_exists(&catalogue, &schema).await, "schema dropped");
    assert!(!role_exists(&catalogue, &schema).await, "role dropped");
    let gone = client
        .get_tenant(name_request(&tenant.name))
        .await
        .expect_err("purged");
    assert_eq!(gone.code(), tonic::Code::NotFound);
    catalogue.close().await.ok();
    server.stop().await;
    database.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_createrole_schema_tenants_fail_with_the_reason() {
    if !postgres_available().await {
        return;
    }
    let database = TestDatabase::create(Backend::Postgres).await;
    database.migrate_as_owner().await;
    // Misconfigured: DDL would run as the serving role, which may not
    // create roles.
    let app_url = database.url.clone();
    let server = TestServer::start_on(&database, move |config| {
        config.migrate_on_start = false;
        config.migration_database_url = app_url;
    })
    .await;
    let mut client = server.tenants();
    let failed = create_with(
        &mut client,
        "lacking",
        "enterprise",
        pb::IsolationModel::Unspecified,
    )
    .await
    .expect("the create itself succeeds");
    assert_eq!(failed.state(), pb::TenantState::Failed);
    assert!(
        failed
            .state_reason
            .contains("creating the tenant role failed")
            && failed.state_reason.contains("permission denied"),
        "{}",
        failed.state_reason
    );
    let pooled = create_with(
        &mut client,
        "pooled-ok",
        "starter",
        pb::IsolationModel::Unspecified,
    )
    .await
    .expect("POOL tenants need no such right");
    assert_eq!(pooled.state(), pb::TenantState::Active);
    let catalogue = connect(&database.owner_url).await;
    assert!(!role_exists(&catalogue, &schema_of(&failed.id)).await);
    catalogue.close().await.ok();
    server.stop().await;
    database.drop_database().await;
}
