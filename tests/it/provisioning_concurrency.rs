//! Many SCHEMA tenants created at once: more than one replica provisions
//! concurrently (four), so the rest wait their turn, and every create
//! still answers its tenant ACTIVE with the whole template.

use tenantd::pb;

use crate::provisioning::create_with;
use crate::support::db::postgres_available;
use crate::support::{Backend, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_all_end_active() {
    if !postgres_available().await {
        return;
    }
    let server = TestServer::start(Backend::Postgres).await;
    let mut creates = tokio::task::JoinSet::new();
    for number in 0..12 {
        let mut client = server.tenants();
        creates.spawn(async move {
            create_with(
                &mut client,
                &format!("rush-{number:02}"),
                "enterprise",
                pb::IsolationModel::Unspecified,
            )
            .await
        });
    }
    let mut active = 0;
    while let Some(joined) = creates.join_next().await {
        let tenant = joined.expect("task").expect("create");
        assert_eq!(tenant.state(), pb::TenantState::Active, "{tenant:?}");
        assert_eq!(tenant.template_version, 2);
        active += 1;
    }
    assert_eq!(active, 12);
    server.stop().await;
}
