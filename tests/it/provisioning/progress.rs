//! Provisioning progress as a consumer sees it: one
//! `tenant.provisioning_step` event per step, in order and each once even
//! when a crash makes the provisioning run again; GetTenant's
//! `provisioning` moving with them; and `tenant.provisioning_failed`
//! (not `tenant.provisioned`) when it fails.

use tenantd::pb;
use tenantd::tenancy::provisioning::Step;
use tonic::Code;

use super::{create_with, tempfile_dir, wait_for};
use crate::support::db::{TestDatabase, postgres_available};
use crate::support::event_log::{SeenEvent, events_of, types_of};
use crate::support::fixtures::name_request;
use crate::support::{Backend, TestServer};

/// The step data of `event`: (step, total, name).
fn step_of(event: &SeenEvent) -> (i64, i64, String) {
    let progress = &event.data["provisioning"];
    (
        progress["step"].as_i64().expect("a step"),
        progress["total_steps"].as_i64().expect("a total"),
        progress["step_name"].as_str().expect("a name").to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_step_is_one_event_in_order_even_across_a_crash() {
    if !postgres_available().await {
        return;
    }
    let database = TestDatabase::create(Backend::Postgres).await;
    // Cut short after the first template file, as a killed replica would.
    let crashing = TestServer::start_on(&database, |config| {
        config.provisioning_fault = Some(Step::TemplateFile(1));
    })
    .await;
    let mut client = crashing.tenants();
    let cut = create_with(&mut client, "steps", "starter", pb::IsolationModel::Schema)
        .await
        .expect_err("provisioning is cut short after file 1");
    assert_eq!(cut.code(), Code::Unavailable, "{cut:?}");
    let listed = client
        .list_tenants(pb::ListTenantsRequest {
            filter: "state = PROVISIONING".to_owned(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    let name = listed.tenants[0].name.clone();
    let halfway = client
        .get_tenant(name_request(&name))
        .await
        .expect("get")
        .into_inner();
    assert_eq!(halfway.state(), pb::TenantState::Provisioning);
    let progress = halfway.provisioning.expect("progress while PROVISIONING");
    assert_eq!(
        (progress.step, progress.total_steps),
        (3, 4),
        "{progress:?}"
    );
    assert_eq!(
        progress.step_name,
        "apply template file 0001_catalogue.sql (1 of 2)"
    );
    crashing.stop().await;

    // The restarted reconciler runs every (idempotent) step again, but
    // reports only those not reported before.
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
    assert_eq!(finished.provisioning, None, "no progress once ACTIVE");

    let events = events_of(&restarted, &name, &[]).await;
    assert_eq!(
        types_of(&events),
        [
            "tenant.created",
            "tenant.provisioning_step",
            "tenant.provisioning_step",
            "tenant.provisioning_step",
            "tenant.provisioning_step",
            "tenant.provisioned",
        ],
        "{events:#?}"
    );
    assert!(
        events
            .windows(2)
            .all(|pair| pair[0].sequence < pair[1].sequence),
        "in commit order"
    );
    assert_eq!(
        events[0].data["provisioning"]["step"], 0,
        "created at step 0"
    );
    let steps: Vec<_> = events[1..5].iter().map(step_of).collect();
    assert_eq!(
        steps,
        [
            (1, 4, "create role".to_owned()),
            (2, 4, "create schema".to_owned()),
            (
                3,
                4,
                "apply template file 0001_catalogue.sql (1 of 2)".to_owned()
            ),
            (
                4,
                4,
                "apply template file 0002_operations.sql (2 of 2)".to_owned()
            ),
        ]
    );
    assert_eq!(events[5].data["state"], "ACTIVE");
    restarted.stop().await;
    database.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_provisioning_is_an_event_with_its_reason() {
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
    let dir = template.clone();
    let server = TestServer::start_with(Backend::Postgres, move |config| {
        config.tenant_template_dir = Some(dir);
    })
    .await;
    let mut client = server.tenants();
    let failed = create_with(&mut client, "doomed", "starter", pb::IsolationModel::Schema)
        .await
        .expect("the create itself succeeds");
    assert_eq!(failed.state(), pb::TenantState::Failed);
    let progress = failed.provisioning.expect("FAILED keeps its progress");
    assert_eq!(
        (progress.step, progress.total_steps),
        (3, 4),
        "the last step that succeeded: {progress:?}"
    );

    let events = events_of(&server, &failed.name, &[]).await;
    assert_eq!(
        types_of(&events),
        [
            "tenant.created",
            "tenant.provisioning_step",
            "tenant.provisioning_step",
            "tenant.provisioning_step",
            "tenant.provisioning_failed",
        ],
        "{events:#?}"
    );
    let failure = &events[4].data;
    assert_eq!(failure["state"], "FAILED");
    let reason = failure["state_reason"].as_str().expect("a reason");
    assert!(
        reason.contains("0002_broken.sql") && reason.contains("nowhere"),
        "the reason names the file and the error: {reason}"
    );
    assert!(
        !reason.contains("postgres://") && !reason.contains("password"),
        "no connection details: {reason}"
    );

    // A retry is a new attempt: it reports its steps again, from 1.
    let retried = client
        .activate_tenant(pb::ActivateTenantRequest {
            name: failed.name.clone(),
            ..Default::default()
        })
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(retried.state(), pb::TenantState::Failed);
    let events = events_of(&server, &failed.name, &["tenant.provisioning_step"]).await;
    let steps: Vec<i64> = events.iter().map(|event| step_of(event).0).collect();
    assert_eq!(steps, [1, 2, 3, 1, 2, 3]);
    server.stop().await;
    let _ = std::fs::remove_dir_all(template);
}
