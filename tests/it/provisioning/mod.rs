//! SCHEMA tenants on PostgreSQL: provisioning makes the schema, the role and
//! every template table; one tenant's role cannot read another's tables; a
//! provisioning cut short is finished after a restart; a failing template
//! ends in a clean FAILED that can be retried; a purge leaves no schema or
//! role behind. And on SQLite, SCHEMA is refused.

mod progress;
mod recovery;

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};
use tenantd::pb;
use tonic::Code;

use crate::support::db::postgres_available;
use crate::support::fixtures::{Client, mask, name_request};
use crate::support::schemas::{
    connect, prober, role_exists, schema_exists, schema_of, tables_with_owners,
};
use crate::support::status::{assert_error, invalid_fields};
use crate::support::{Backend, TestServer};

/// The tables of the example template, and the version table.
const TEMPLATE_TABLES: [&str; 6] = [
    "companies",
    "forecasts",
    "inventory",
    "products",
    "sales",
    "tenantd_template_versions",
];

/// Creates a tenant with `plan` and `isolation`, answering the result.
pub(crate) async fn create_with(
    client: &mut Client,
    slug: &str,
    plan: &str,
    isolation: pb::IsolationModel,
) -> Result<pb::Tenant, tonic::Status> {
    client
        .create_tenant(pb::CreateTenantRequest {
            tenant: Some(pb::Tenant {
                slug: slug.to_owned(),
                plan: plan.to_owned(),
                isolation: isolation.into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .map(tonic::Response::into_inner)
}

/// Polls GetTenant until `done` holds, for at most 15 seconds.
pub(crate) async fn wait_for(
    client: &mut Client,
    name: &str,
    done: impl Fn(&Result<pb::Tenant, tonic::Status>) -> bool,
) -> Result<pb::Tenant, tonic::Status> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let answer = client
            .get_tenant(name_request(name))
            .await
            .map(tonic::Response::into_inner);
        if done(&answer) || Instant::now() > deadline {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn assert_gone(db: &DatabaseConnection, schema: &str) {
    assert!(!schema_exists(db, schema).await, "schema {schema} remains");
    assert!(!role_exists(db, schema).await, "role {schema} remains");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioning_makes_an_isolated_schema_per_tenant() {
    if !postgres_available().await {
        return;
    }
    let server = TestServer::start(Backend::Postgres).await;
    let mut client = server.tenants();
    // Professional defaults to SCHEMA; a starter tenant may ask for it.
    let a = create_with(
        &mut client,
        "alpha",
        "professional",
        pb::IsolationModel::Unspecified,
    )
    .await
    .expect("create alpha");
    let b = create_with(&mut client, "bravo", "starter", pb::IsolationModel::Schema)
        .await
        .expect("create bravo");
    let pooled = create_with(
        &mut client,
        "pooled",
        "starter",
        pb::IsolationModel::Unspecified,
    )
    .await
    .expect("create a pooled tenant");
    for tenant in [&a, &b] {
        assert_eq!(tenant.state(), pb::TenantState::Active, "{tenant:?}");
        assert_eq!(tenant.isolation(), pb::IsolationModel::Schema);
        assert_eq!(tenant.template_version, 2, "both example files applied");
    }
    assert_eq!(pooled.isolation(), pb::IsolationModel::Pool);
    assert_eq!(pooled.state(), pb::TenantState::Active);
    assert_eq!(pooled.template_version, 0);
    let fetched = client
        .get_tenant(name_request(&a.name))
        .await
        .expect("get alpha")
        .into_inner();
    assert_eq!(fetched.template_version, 2, "GetTenant shows the version");

    let admin = connect(&server.database_url).await;
    let (schema_a, schema_b) = (schema_of(&a.id), schema_of(&b.id));
    for schema in [&schema_a, &schema_b] {
        assert!(schema_exists(&admin, schema).await);
        assert!(role_exists(&admin, schema).await);
        let expected: Vec<String> = TEMPLATE_TABLES
            .iter()
            .map(|table| format!("{table}:{schema}"))
            .collect();
        assert_eq!(
            tables_with_owners(&admin, schema).await,
            expected,
            "every template table, owned by the tenant's role"
        );
    }
    assert!(!schema_exists(&admin, &schema_of(&pooled.id)).await);
    let rights = admin
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            format!(
                "SELECT has_schema_privilege('tenantd_app', '{schema_a}', 'USAGE') AS app, \
                 (SELECT rolcanlogin FROM pg_roles WHERE rolname = '{schema_a}') AS login, \
                 (SELECT count(*) FROM pg_namespace, aclexplode(nspacl) acl \
                  WHERE nspname = '{schema_a}' AND acl.grantee = 0) AS public_grants"
            ),
        ))
        .await
        .expect("read privileges")
        .expect("a row");
    assert!(
        !rights.try_get::<bool>("", "app").unwrap(),
        "the app role gets nothing"
    );
    assert!(
        !rights.try_get::<bool>("", "login").unwrap(),
        "tenant roles cannot log in"
    );
    assert_eq!(
        rights.try_get::<i64>("", "public_grants").unwrap(),
        0,
        "PUBLIC gets nothing"
    );

    let probe = prober(&server.database_url, &admin, &[&schema_a, &schema_b]).await;
    // One transaction per attempt: the pool would run each statement on
    // any connection, and SET LOCAL keeps to the transaction's.
    let as_role = |role: &str, sql: String| {
        let statement = format!("SET LOCAL ROLE {role}; {sql}");
        let probe = &probe;
        async move {
            let txn = probe.begin().await.expect("begin");
            let outcome = txn.execute_unprepared(&statement).await;
            txn.rollback().await.ok();
            outcome
        }
    };
    let refused = as_role(&schema_b, format!("SELECT * FROM {schema_a}.companies"))
        .await
        .expect_err("bravo cannot read alpha's tables");
    assert!(
        refused.to_string().contains("permission denied"),
        "{refused}"
    );
    let refused = as_role(
        &schema_b,
        format!("CREATE TABLE {schema_a}.intruder (id int)"),
    )
    .await
    .expect_err("nor create tables in alpha's schema");
    assert!(
        refused.to_string().contains("permission denied"),
        "{refused}"
    );
    as_role(
        &schema_a,
        format!(
            "INSERT INTO {schema_a}.companies (name) VALUES ('Acme'); \
             SELECT * FROM {schema_a}.companies"
        ),
    )
    .await
    .expect("alpha reads and writes its own tables");
    probe.close().await.ok();
    admin.close().await.ok();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_refuses_schema_isolation() {
    let server = TestServer::start(Backend::Sqlite).await;
    let mut client = server.tenants();
    let refused = create_with(
        &mut client,
        "schemaless",
        "starter",
        pb::IsolationModel::Schema,
    )
    .await
    .expect_err("SCHEMA needs PostgreSQL");
    assert_error(
        &refused,
        Code::FailedPrecondition,
        "SCHEMA_ISOLATION_UNSUPPORTED",
    );
    assert!(
        refused.message().contains("PostgreSQL"),
        "{}",
        refused.message()
    );
    let pooled = create_with(
        &mut client,
        "paid",
        "enterprise",
        pb::IsolationModel::Unspecified,
    )
    .await
    .expect("a paid plan's default falls back to POOL");
    assert_eq!(pooled.isolation(), pb::IsolationModel::Pool);
    assert_eq!(pooled.state(), pb::TenantState::Active);
    let fixed = client
        .update_tenant(pb::UpdateTenantRequest {
            tenant: Some(pb::Tenant {
                name: pooled.name.clone(),
                isolation: pb::IsolationModel::Schema.into(),
                ..Default::default()
            }),
            update_mask: mask(&["isolation"]),
        })
        .await
        .expect_err("isolation is fixed at creation");
    assert_eq!(invalid_fields(&fixed), ["update_mask"]);
    server.stop().await;
}

/// A fresh temporary directory.
pub(crate) fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tenantd-template-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).expect("create a template directory");
    dir
}
