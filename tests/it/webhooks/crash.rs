//! Two delivering replicas on PostgreSQL, the one holding the endpoint
//! killed with SIGKILL in the middle of a burst of 1,000 events: every
//! event reaches the receiver at least once, a repeat carries the same
//! `webhook-id` and body, and each subject's events arrive in order.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::process::{Child, Stdio};
use std::time::Duration;

use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use serde_json::Value;
use tenantd::pb;

use super::receiver::{Receiver, admin, create_endpoint};
use crate::process::{free_port, tenantd, wait_until_serving};
use crate::support::db::{TestDatabase, postgres_available};
use crate::support::server::ADMIN_TOKEN;
use crate::support::{Backend, TestServer, fixtures};

const TENANTS: usize = 10;
const UPDATES_PER_TENANT: usize = 100;

fn replica(database: &TestDatabase) -> (Child, u16) {
    let port = free_port();
    let child = tenantd()
        .env("TENANTD_DATABASE_URL", &database.url)
        .env("TENANTD_MIGRATION_DATABASE_URL", &database.owner_url)
        .env("TENANTD_LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("TENANTD_ADMIN_TOKENS", format!("ops={ADMIN_TOKEN}"))
        .env("TENANTD_WEBHOOK_ALLOWED_CIDRS", "127.0.0.1/32")
        .env("TENANTD_WEBHOOK_LEASE", "2s")
        .env("TENANTD_WEBHOOK_TIMEOUT", "500ms")
        .env("TENANTD_WEBHOOK_POLL_INTERVAL", "50ms")
        .env("TENANTD_WEBHOOK_BACKOFF_BASE", "100ms")
        .env("TENANTD_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tenantd");
    (child, port)
}

/// The process id in the lease of the (one) endpoint, if it is held.
async fn lease_holder(owner_url: &str) -> Option<u32> {
    let connection = Database::connect(owner_url)
        .await
        .expect("connect as owner");
    let row = connection
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT lease_owner FROM webhook_endpoints",
        ))
        .await
        .expect("read the lease")?;
    let owner: Option<String> = row.try_get("", "lease_owner").expect("lease_owner");
    owner?.split(':').next()?.parse().ok()
}

/// Every `tenant.updated` event as (id, sequence, subject), in order.
async fn events(owner_url: &str) -> Vec<(String, i64, String)> {
    let connection = Database::connect(owner_url)
        .await
        .expect("connect as owner");
    connection
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT id::text AS id, sequence, subject FROM events WHERE type = 'tenant.updated' ORDER BY sequence",
        ))
        .await
        .expect("read events")
        .into_iter()
        .map(|row| {
            (
                row.try_get("", "id").expect("id"),
                row.try_get("", "sequence").expect("sequence"),
                row.try_get("", "subject").expect("subject"),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_replica_loses_no_event_and_keeps_each_subjects_order() {
    if !postgres_available().await {
        return;
    }
    let database = TestDatabase::create(Backend::Postgres).await;
    // The replica the test writes through delivers nothing itself.
    let writer = TestServer::start_on(&database, |config| {
        config.webhooks.concurrency = 0;
        config.webhooks.policy.allowed = vec!["127.0.0.1/32".parse().expect("cidr")];
    })
    .await;
    let mut tenants = writer.tenants();
    let mut names = Vec::new();
    for index in 0..TENANTS {
        names.push(
            fixtures::create(&mut tenants, &format!("burst-{index}"))
                .await
                .name,
        );
    }
    let receiver = Receiver::start();
    let (_, secret) = create_endpoint(
        &mut admin(&writer.channel),
        "",
        &receiver.url("/burst"),
        &["tenant.updated"],
    )
    .await;
    receiver.set_secret(&secret).await;
    let (mut first, first_port) = replica(&database);
    let (mut second, second_port) = replica(&database);
    wait_until_serving(first_port, &mut first).await;
    wait_until_serving(second_port, &mut second).await;

    let burst: Vec<_> = names
        .iter()
        .cloned()
        .map(|name| {
            let mut client = writer.tenants();
            tokio::spawn(async move {
                for round in 0..UPDATES_PER_TENANT {
                    client
                        .update_tenant(pb::UpdateTenantRequest {
                            tenant: Some(pb::Tenant {
                                name: name.clone(),
                                display_name: format!("round {round}"),
                                ..Default::default()
                            }),
                            update_mask: fixtures::mask(&["display_name"]),
                        })
                        .await
                        .expect("update tenant");
                }
            })
        })
        .collect();
    receiver
        .wait_for(Duration::from_secs(60), |records| records.len() >= 150)
        .await;
    let holder = lease_holder(&database.owner_url).await;
    let (killed, survivor) = if holder == Some(second.id()) {
        (&mut second, &mut first)
    } else {
        (&mut first, &mut second)
    };
    killed.kill().expect("SIGKILL the delivering replica");
    killed.wait().expect("reap it");
    let at_kill = receiver.records().await.len();
    for task in burst {
        task.await.expect("burst");
    }
    let total = TENANTS * UPDATES_PER_TENANT;
    assert!(
        at_kill < total,
        "the kill came after the burst was delivered"
    );
    let expected = events(&database.owner_url).await;
    assert_eq!(expected.len(), total);
    let wanted: HashSet<&str> = expected.iter().map(|(id, _, _)| id.as_str()).collect();
    let records = receiver
        .wait_for(Duration::from_secs(120), |records| {
            let got: HashSet<&str> = records
                .iter()
                .filter_map(|r| r["webhook_id"].as_str())
                .collect();
            wanted.is_subset(&got)
        })
        .await;
    assert!(
        survivor.try_wait().expect("poll").is_none(),
        "the survivor is alive"
    );

    let mut bodies: HashMap<&str, &Value> = HashMap::new();
    let mut order: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for record in &records {
        assert_eq!(
            record["verified"], true,
            "standardwebhooks refused {record}"
        );
        let id = record["webhook_id"].as_str().expect("webhook-id");
        let event = &record["event"];
        assert_eq!(
            event["id"].as_str(),
            Some(id),
            "webhook-id is the event's id"
        );
        if let Some(earlier) = bodies.insert(id, event) {
            assert_eq!(earlier, event, "a repeat carries the same event");
        }
        if seen.insert(id) {
            let sequence: i64 = event["sequence"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .expect("sequence");
            order
                .entry(event["subject"].as_str().unwrap_or_default().to_owned())
                .or_default()
                .push(sequence);
        }
    }
    assert_eq!(seen.len(), total, "each event at least once, nothing else");
    assert_eq!(order.len(), TENANTS);
    for (subject, sequences) in &order {
        assert!(
            sequences.windows(2).all(|pair| pair[0] < pair[1]),
            "{subject} out of order: {sequences:?}"
        );
    }
    let repeats = records.len() - total;
    eprintln!("{repeats} repeated deliveries after the kill at {at_kill} of {total}");
    survivor.kill().expect("stop the survivor");
    survivor.wait().expect("reap it");
    writer.stop().await;
    database.drop_database().await;
}
