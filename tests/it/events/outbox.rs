//! The outbox: a change and its event commit together, and events are
//! numbered gap-free in commit order across replicas.

use std::collections::BTreeMap;

use sea_orm::{ConnectionTrait, Statement};
use tenantd::pb;
use tonic::Code;

use super::{admin, events, request};
use crate::backend_tests;
use crate::support::fixtures::{Client, create, mask};
use crate::support::schemas::connect;
use crate::support::{Backend, TestServer};

/// Renames tenant `name` to `display_name`.
async fn rename(
    client: &mut Client,
    name: &str,
    display_name: &str,
) -> Result<pb::Tenant, tonic::Status> {
    client
        .update_tenant(pb::UpdateTenantRequest {
            tenant: Some(pb::Tenant {
                name: name.to_owned(),
                display_name: display_name.to_owned(),
                ..Default::default()
            }),
            update_mask: mask(&["display_name"]),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// A trigger that fails the audit write of any change whose snapshot
/// mentions `marker`: the change's own write and its event are already in
/// the transaction by then, so only a transaction that rolls back as a
/// whole leaves no trace.
fn failing_audit_trigger(backend: Backend, marker: &str) -> Vec<String> {
    match backend {
        Backend::Sqlite => vec![format!(
            "CREATE TRIGGER fail_marked_audit BEFORE INSERT ON audit_events \
             WHEN NEW.after LIKE '%{marker}%' BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
        )],
        Backend::Postgres => vec![
            format!(
                "CREATE FUNCTION fail_marked_audit() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN IF NEW.after::text LIKE '%{marker}%' THEN \
                 RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$"
            ),
            "CREATE TRIGGER fail_marked_audit BEFORE INSERT ON audit_events \
             FOR EACH ROW EXECUTE FUNCTION fail_marked_audit()"
                .to_owned(),
        ],
    }
}

async fn a_change_rolled_back_leaves_no_event(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut tenants = server.tenants();
    let tenant = create(&mut tenants, "rolled-back").await;
    let owner = connect(&server.database_url).await;
    for statement in failing_audit_trigger(backend, "doomed-change") {
        owner
            .execute_raw(Statement::from_string(
                owner.get_database_backend(),
                statement,
            ))
            .await
            .expect("install the trigger");
    }
    owner.close().await.expect("close");

    let refused = rename(&mut tenants, &tenant.name, "doomed-change")
        .await
        .expect_err("the failing audit write fails the change");
    assert_eq!(refused.code(), Code::Internal, "{refused:?}");
    rename(&mut tenants, &tenant.name, "kept-change")
        .await
        .expect("an unmarked change commits");

    let mut stream = admin(&server.channel)
        .watch_events(request(&[&tenant.name], Some(0)))
        .await
        .expect("watch")
        .into_inner();
    let seen = events(&mut stream, 2).await;
    assert_eq!(
        seen.iter()
            .map(|seen| seen.short_type())
            .collect::<Vec<_>>(),
        ["tenant.created", "tenant.updated"]
    );
    assert_eq!(seen[1].data()["display_name"], "kept-change");
    // The rolled-back change took a sequence and gave it back.
    assert_eq!(seen[1].sequence, seen[0].sequence + 1);
    super::no_event_within(&mut stream, std::time::Duration::from_millis(300)).await;
    let current = tenants
        .get_tenant(crate::support::fixtures::name_request(&tenant.name))
        .await
        .expect("get")
        .into_inner();
    assert_eq!(current.display_name, "kept-change");
    server.stop().await;
}

backend_tests!(a_change_rolled_back_leaves_no_event);

/// Writers per replica, each renaming its own tenant in turn.
const WRITERS: usize = 3;
/// Renames per writer.
const RENAMES: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_arrive_in_commit_order_across_two_replicas() {
    let Some((first, second)) = TestServer::replicas_with_long_cache().await else {
        return;
    };
    // One stream on each replica, both from the start of the log.
    let mut on_first = admin(&first.channel)
        .watch_events(request(&[], Some(0)))
        .await
        .expect("watch the first replica")
        .into_inner();
    let mut on_second = admin(&second.channel)
        .watch_events(request(&[], Some(0)))
        .await
        .expect("watch the second replica")
        .into_inner();
    let mut writers = Vec::new();
    for writer in 0..WRITERS * 2 {
        let mut clients = [first.tenants(), second.tenants()];
        writers.push(tokio::spawn(async move {
            let tenant = create(&mut clients[writer % 2], &format!("order-{writer}")).await;
            for turn in 0..RENAMES {
                // Each change goes to the other replica than the last.
                let client = &mut clients[(writer + turn) % 2];
                rename(client, &tenant.name, &format!("turn-{turn}"))
                    .await
                    .expect("rename");
            }
            tenant.name
        }));
    }
    let mut written = Vec::new();
    for writer in writers {
        written.push(writer.await.expect("writer"));
    }
    let total = WRITERS * 2 * (RENAMES + 1);
    let seen_first = events(&mut on_first, total).await;
    let seen_second = events(&mut on_second, total).await;

    // Gap-free, and both replicas stream the same log in the same order.
    for (index, seen) in seen_first.iter().enumerate() {
        assert_eq!(seen.sequence, seen_first[0].sequence + index as i64);
    }
    let ids = |seen: &[super::Seen]| seen.iter().map(|s| s.event.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&seen_first), ids(&seen_second));

    // Each tenant's changes in the order they were made, each once.
    let mut turns: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for seen in &seen_first {
        let subject = seen.attribute("subject").expect("a subject");
        turns.entry(subject).or_default().push(
            seen.data()["display_name"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        );
    }
    for name in &written {
        let names = turns.get(name).expect("the tenant's events");
        let expected: Vec<String> = (0..RENAMES).map(|turn| format!("turn-{turn}")).collect();
        assert_eq!(
            names.len(),
            RENAMES + 1,
            "{name}: its creation and each rename"
        );
        assert_eq!(names[1..], expected[..], "{name}");
    }
    second.stop().await;
    first.stop().await;
}
