//! The fleet rollout, `tenantd tenants migrate`, run as an operator runs
//! it: 50 SCHEMA tenants at template v1 all reach v2; one tenant whose
//! schema was tampered with fails alone and is reported, with a non-zero
//! exit; once it is fixed, a second run migrates only that one.

use std::process::Output;

use sea_orm::ConnectionTrait;
use tenantd::pb;

use crate::process::tenantd;
use crate::provisioning::{create_with, tempfile_dir};
use crate::support::db::postgres_available;
use crate::support::fixtures::name_request;
use crate::support::schemas::{connect, schema_of};
use crate::support::{Backend, TestServer};

const FLEET: usize = 50;

fn migrate(server: &TestServer, template: &std::path::Path, extra: &[&str]) -> Output {
    tenantd()
        .args(["tenants", "migrate", "--concurrency", "4"])
        .args(extra)
        .env("TENANTD_DATABASE_URL", &server.database().url)
        .env(
            "TENANTD_MIGRATION_DATABASE_URL",
            &server.database().owner_url,
        )
        .env("TENANTD_TENANT_TEMPLATE_DIR", template)
        .output()
        .expect("run tenantd tenants migrate")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_brings_the_fleet_to_the_new_version_and_resumes() {
    if !postgres_available().await {
        return;
    }
    let template = tempfile_dir();
    std::fs::write(
        template.join("0001_companies.sql"),
        "CREATE TABLE companies (id bigint PRIMARY KEY, name text NOT NULL);",
    )
    .unwrap();
    let dir = template.clone();
    let server = TestServer::start_with(Backend::Postgres, move |config| {
        config.tenant_template_dir = Some(dir);
    })
    .await;
    let mut client = server.tenants();
    let mut fleet = Vec::new();
    for number in 0..FLEET {
        let tenant = create_with(
            &mut client,
            &format!("fleet-{number:02}"),
            "starter",
            pb::IsolationModel::Schema,
        )
        .await
        .expect("create a SCHEMA tenant");
        assert_eq!(tenant.template_version, 1);
        fleet.push(tenant);
    }

    std::fs::write(
        template.join("0002_orders.sql"),
        "CREATE TABLE orders (id bigint PRIMARY KEY, company_id bigint REFERENCES companies (id));",
    )
    .unwrap();
    let dry = migrate(&server, &template, &["--dry-run"]);
    assert!(dry.status.success(), "{dry:?}");
    assert!(
        stdout(&dry).contains("50 to migrate, 0 already current, 0 failed"),
        "{dry:?}"
    );

    // One tenant's schema already has a conflicting `orders` table.
    let broken = &fleet[17];
    let admin = connect(&server.database_url).await;
    let schema = schema_of(&broken.id);
    admin
        .execute_unprepared(&format!("CREATE TABLE {schema}.orders (note text)"))
        .await
        .expect("tamper with one schema");

    let first = migrate(&server, &template, &[]);
    assert!(!first.status.success(), "a failed tenant fails the run");
    let report = stdout(&first);
    assert!(
        report.contains("49 migrated, 0 already current, 1 failed"),
        "{report}"
    );
    assert!(
        report.contains(&format!("failed {}: ", broken.name)) && report.contains("orders"),
        "the failure names the tenant and its error: {report}"
    );
    for tenant in &fleet {
        let fetched = client
            .get_tenant(name_request(&tenant.name))
            .await
            .expect("get")
            .into_inner();
        let expected = if tenant.id == broken.id { 1 } else { 2 };
        assert_eq!(fetched.template_version, expected, "{}", tenant.slug);
    }

    admin
        .execute_unprepared(&format!("DROP TABLE {schema}.orders"))
        .await
        .expect("fix the schema");
    let second = migrate(&server, &template, &[]);
    assert!(second.status.success(), "{second:?}");
    assert!(
        stdout(&second).contains("1 migrated, 49 already current, 0 failed"),
        "only the fixed tenant is migrated: {second:?}"
    );
    let fixed = client
        .get_tenant(name_request(&broken.name))
        .await
        .expect("get")
        .into_inner();
    assert_eq!(fixed.template_version, 2);
    admin.close().await.ok();
    server.stop().await;
    let _ = std::fs::remove_dir_all(template);
}
