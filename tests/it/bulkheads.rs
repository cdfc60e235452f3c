//! Per-tenant bulkheads: a tenant over its share of the replica is refused
//! its excess with RESOURCE_EXHAUSTED and `RetryInfo`, while every other
//! tenant's calls go on as before.

use std::time::Duration;

use sea_orm::{ConnectionTrait, Database, Statement, TransactionTrait};
use tenantd::pb;
use tenantd::pb::usage_service_client::UsageServiceClient;
use tenantd::settings::BudgetSettings;
use tonic::Code;
use tonic_types::StatusExt;

use crate::support::fixtures::create;
use crate::support::flags::configs;
use crate::support::server::{Credentials, SERVICE_TOKEN};
use crate::support::status::assert_error;
use crate::support::usage::{create_metrics, usage_event};
use crate::support::{Backend, TestServer};

crate::backend_tests!(a_tenant_over_its_rate_is_refused_and_others_are_not);

fn get_config(tenant: &pb::Tenant) -> tonic::Request<pb::GetConfigRequest> {
    let mut request = tonic::Request::new(pb::GetConfigRequest {
        name: format!("{}/config", tenant.name),
        view: 0,
    });
    request
        .metadata_mut()
        .insert("x-tenant-id", tenant.id.parse().expect("ascii id"));
    request
}

async fn a_tenant_over_its_rate_is_refused_and_others_are_not(backend: Backend) {
    let server = TestServer::start_with(backend, |config| {
        config.tenant_budget = BudgetSettings {
            max_concurrent_calls: 0,
            rate_per_second: 5,
        };
    })
    .await;
    let mut tenants = server.tenants();
    let (noisy, quiet) = (
        create(&mut tenants, "noisy").await,
        create(&mut tenants, "quiet").await,
    );
    let mut service = configs(&server.channel, SERVICE_TOKEN);
    let mut refused = Vec::new();
    for _ in 0..12 {
        if let Err(status) = service.get_config(get_config(&noisy)).await {
            refused.push(status);
        }
    }
    assert!(refused.len() >= 5, "only {} of 12 refused", refused.len());
    for status in &refused {
        assert_error(status, Code::ResourceExhausted, "TENANT_RATE_EXCEEDED");
        let retry = status.get_details_retry_info().expect("RetryInfo");
        assert!(
            retry
                .retry_delay
                .is_some_and(|delay| delay <= Duration::from_secs(1))
        );
    }
    for _ in 0..5 {
        service
            .get_config(get_config(&quiet))
            .await
            .expect("the quiet tenant has its own budget");
    }
    tokio::time::sleep(Duration::from_millis(250)).await;
    service
        .get_config(get_config(&noisy))
        .await
        .expect("the noisy tenant is admitted again once its bucket refilled");
    server.stop().await;
}

/// Two of the noisy tenant's calls wait on a row the test holds, filling
/// its concurrency budget of two: its third call is refused at once, and
/// the quiet tenant is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_at_its_concurrency_is_refused_and_others_are_not() {
    if !crate::support::db::postgres_available().await {
        return;
    }
    let server = TestServer::start_with(Backend::Postgres, |config| {
        config.tenant_budget = BudgetSettings {
            max_concurrent_calls: 2,
            rate_per_second: 0,
        };
    })
    .await;
    let mut tenants = server.tenants();
    let (noisy, quiet) = (
        create(&mut tenants, "noisy").await,
        create(&mut tenants, "quiet").await,
    );
    create_metrics(
        &server.channel,
        &[("api_calls", pb::MetricAggregation::Sum, "")],
    )
    .await;
    // The noisy tenant's own key: its calls spend its budget.
    let key = tenants
        .create_api_key(pb::CreateApiKeyRequest {
            parent: noisy.name.clone(),
            api_key: Some(pb::ApiKey {
                display_name: "meter".into(),
                scopes: vec!["usage:write".into(), "config:read".into()],
                ..Default::default()
            }),
        })
        .await
        .expect("create key")
        .into_inner()
        .secret;

    // An uncommitted event with the id the calls below report: their
    // inserts wait for this transaction to end.
    let owner = Database::connect(&server.database_url)
        .await
        .expect("owner");
    let held = owner.begin().await.expect("begin");
    held.execute_raw(Statement::from_string(
        owner.get_database_backend(),
        format!(
            "INSERT INTO usage_events (tenant_id, event_id, metric, quantity, occurred_time, day, dimensions, ingest_time)
             VALUES ('{}', 'held', 'api_calls', 1, now(), to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD'), '{{}}', now())",
            noisy.id
        ),
    ))
    .await
    .expect("hold the event");
    let report = |channel: tonic::transport::Channel, tenant: pb::Tenant, key: String| async move {
        let mut usage = UsageServiceClient::with_interceptor(channel, Credentials::bearer(&key));
        usage
            .report_usage(pb::ReportUsageRequest {
                events: vec![usage_event(
                    "held",
                    &tenant.name,
                    "api_calls",
                    1.0,
                    chrono::Utc::now(),
                )],
            })
            .await
    };
    let waiting: Vec<_> = (0..2)
        .map(|_| tokio::spawn(report(server.channel.clone(), noisy.clone(), key.clone())))
        .collect();
    let mut own = configs(&server.channel, &key);
    let mut service = configs(&server.channel, SERVICE_TOKEN);
    // Both reports wait on the held row before the third call is made.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let waiting_sessions = owner
            .query_one_raw(Statement::from_string(
                owner.get_database_backend(),
                "SELECT count(*) AS waiting FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
            ))
            .await
            .expect("read pg_stat_activity")
            .and_then(|row| row.try_get::<i64>("", "waiting").ok())
            .unwrap_or_default();
        if waiting_sessions == 2 {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            held.rollback().await.expect("let go");
            panic!("the reports never waited: {waiting_sessions} sessions wait");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = own
        .get_config(get_config(&noisy))
        .await
        .expect_err("a third call is over the budget");
    assert_error(
        &status,
        Code::ResourceExhausted,
        "TENANT_CONCURRENCY_EXCEEDED",
    );
    assert!(status.get_details_retry_info().is_some());
    service
        .get_config(get_config(&quiet))
        .await
        .expect("the quiet tenant is served meanwhile");

    held.rollback().await.expect("let go");
    for call in waiting {
        call.await
            .expect("the call ran")
            .expect("the waiting report lands once the row is free");
    }
    own.get_config(get_config(&noisy))
        .await
        .expect("the noisy tenant is admitted again");
    server.stop().await;
}
