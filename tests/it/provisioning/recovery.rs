//! SCHEMA provisioning that is interrupted or fails: it is finished after a
//! restart, or cleaned up, retried and purged.

use std::time::Duration;

use sea_orm::ConnectionTrait;
use tenantd::pb;
use tenantd::tenancy::provisioning::Step;
use tonic::Code;

use super::{TEMPLATE_TABLES, assert_gone, create_with, tempfile_dir, wait_for};
use crate::support::db::{TestDatabase, postgres_available};
use crate::support::fixtures::name_request;
use crate::support::schemas::{connect, schema_of, tables_with_owners};
use crate::support::status::assert_error;
use crate::support::{Backend, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_provisioning_is_finished_after_a_restart() {
    if !postgres_available().await {
        return;
    }
    let database = TestDatabase::create(Backend::Postgres).await;
    let crashing = TestServer::start_on(&database, |config| {
        config.provisioning_fault = Some(Step::Schema);
    })
    .await;
    let mut client = crashing.tenants();
    let cut = create_with(
        &mut client,
        "halfway",
        "enterprise",
        pb::IsolationModel::Unspecified,
    )
    .await
    .expect_err("provisioning is cut short after the schema");
    assert_eq!(cut.code(), Code::Unavailable, "{cut:?}");
    let listed = client
        .list_tenants(pb::ListTenantsRequest {
            filter: "state = PROVISIONING".to_owned(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.tenants.len(), 1, "left PROVISIONING");
    let name = listed.tenants[0].name.clone();
    let schema = schema_of(&listed.tenants[0].id);
    crashing.stop().await;

    let restarted = TestServer::start_on(&database, |_| {}).await;
    let mut client = restarted.tenants();
    let finished = wait_for(&mut client, &name, |answer| {
        answer
            .as_ref()
            .is_ok_and(|tenant| tenant.state() != pb::TenantState::Provisioning)
    })
    .await
    .expect("get the tenant");
    assert_eq!(finished.state(), pb::TenantState::Active, "{finished:?}");
    assert_eq!(finished.template_version, 2);
    let admin = connect(&database.owner_url).await;
    assert_eq!(
        tables_with_owners(&admin, &schema).await.len(),
        TEMPLATE_TABLES.len()
    );
    admin.close().await.ok();
    restarted.stop().await;
    database.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_provisioning_is_clean_retried_and_purged() {
    if !postgres_available().await {
        return;
    }
    let template = tempfile_dir();
    std::fs::write(
        template.join("0001_catalogue.sql"),
        "CREATE TABLE companies (id int PRIMARY KEY);",
    )
    .unwrap();
    std::fs::write(
        template.join("0002_broken.sql"),
        "CREATE TABLE orders (company_id int REFERENCES nowhere (id));",
    )
    .unwrap();
    let database = TestDatabase::create(Backend::Postgres).await;
    let dir = template.clone();
    let broken = TestServer::start_on(&database, move |config| {
        config.tenant_template_dir = Some(dir);
    })
    .await;
    let mut client = broken.tenants();
    let failed = create_with(
        &mut client,
        "unlucky",
        "enterprise",
        pb::IsolationModel::Unspecified,
    )
    .await
    .expect("the create itself succeeds");
    assert_eq!(failed.state(), pb::TenantState::Failed);
    assert!(
        failed.state_reason.contains("0002_broken.sql") && failed.state_reason.contains("nowhere"),
        "the reason names the file and the error: {}",
        failed.state_reason
    );
    let fetched = client
        .get_tenant(name_request(&failed.name))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        fetched.state_reason, failed.state_reason,
        "visible on GetTenant"
    );
    let admin = connect(&database.owner_url).await;
    let schema = schema_of(&failed.id);
    assert_gone(&admin, &schema).await;
    let suspend = client
        .suspend_tenant(pb::SuspendTenantRequest {
            name: failed.name.clone(),
            reason: "no".to_owned(),
            ..Default::default()
        })
        .await
        .expect_err("a failed tenant cannot be suspended");
    assert_error(&suspend, Code::FailedPrecondition, "TENANT_FAILED");
    broken.stop().await;

    // The operator fixes the template and retries.
    std::fs::write(
        template.join("0002_broken.sql"),
        "CREATE TABLE orders (company_id int REFERENCES companies (id));",
    )
    .unwrap();
    let dir = template.clone();
    let fixed = TestServer::start_on(&database, move |config| {
        config.tenant_template_dir = Some(dir);
        config.purge_after = chrono::Duration::zero();
        config.tenant_jobs_interval = Duration::from_millis(200);
    })
    .await;
    let mut client = fixed.tenants();
    let retried = client
        .activate_tenant(pb::ActivateTenantRequest {
            name: failed.name.clone(),
            ..Default::default()
        })
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(retried.state(), pb::TenantState::Active, "{retried:?}");
    assert!(retried.state_reason.is_empty());
    assert_eq!(retried.template_version, 2);
    assert_eq!(tables_with_owners(&admin, &schema).await.len(), 3);

    client
        .delete_tenant(pb::DeleteTenantRequest {
            name: failed.name.clone(),
            ..Default::default()
        })
        .await
        .expect("delete");
    let purged = wait_for(&mut client, &failed.name, |answer| {
        answer
            .as_ref()
            .is_err_and(|status| status.code() == Code::NotFound)
    })
    .await;
    assert_eq!(purged.expect_err("purged").code(), Code::NotFound);
    assert_gone(&admin, &schema).await;
    let trail = admin
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            format!(
                "SELECT count(*) AS events, count(*) FILTER (WHERE action = 'PurgeTenant') AS purges \
                 FROM audit_events WHERE tenant_id = '{}'",
                failed.id
            ),
        ))
        .await
        .unwrap()
        .unwrap();
    assert!(
        trail.try_get::<i64>("", "events").unwrap() >= 5,
        "the audit trail stays"
    );
    assert_eq!(trail.try_get::<i64>("", "purges").unwrap(), 1);
    admin.close().await.ok();
    fixed.stop().await;
    database.drop_database().await;
    let _ = std::fs::remove_dir_all(template);
}
