//! WatchEvents as a consumer uses it: exact resumption, heartbeats that
//! carry the stream past filtered events, sequences out of range, hostile
//! requests, CloudEvents attributes, and a tenant key held to its tenant.

use std::time::Duration;

use tenantd::pb;
use tenantd::pb::watch_events_response::Kind;
use tonic::Code;

use super::{Seen, admin, as_caller, events, next, no_event_within, request};
use crate::backend_tests;
use crate::support::fixtures::{Client, create, mask};
use crate::support::server::{Credentials, SERVICE_TOKEN};
use crate::support::status::{assert_error, invalid_fields};
use crate::support::{Backend, TestServer};

async fn label(client: &mut Client, name: &str, value: &str) {
    client
        .update_tenant(pb::UpdateTenantRequest {
            tenant: Some(pb::Tenant {
                name: name.to_owned(),
                labels: [("step".to_owned(), value.to_owned())].into(),
                ..Default::default()
            }),
            update_mask: mask(&["labels"]),
        })
        .await
        .expect("label the tenant");
}

async fn the_stream_resumes_exactly_after_a_sequence(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut tenants = server.tenants();
    let tenant = create(&mut tenants, "resumed").await;
    for step in 0..4 {
        label(&mut tenants, &tenant.name, &step.to_string()).await;
    }
    let mut watch = admin(&server.channel);
    let mut everything = watch
        .watch_events(request(&[&tenant.name], Some(0)))
        .await
        .expect("watch")
        .into_inner();
    let first = events(&mut everything, 5).await;
    let mut resumed = watch
        .watch_events(request(&[&tenant.name], Some(first[1].sequence)))
        .await
        .expect("resume")
        .into_inner();
    let after = events(&mut resumed, 3).await;
    assert_eq!(after, first[2..], "exactly the events after the sequence");

    // A live change reaches both streams next, once.
    label(&mut tenants, &tenant.name, "live").await;
    let live = events(&mut resumed, 1).await;
    assert_eq!(live[0].sequence, first[4].sequence + 1);
    assert_eq!(live[0].data()["labels"]["step"], "live");
    assert_eq!(events(&mut everything, 1).await, live);
    no_event_within(&mut resumed, Duration::from_millis(300)).await;

    // Without a sequence, a stream starts with the next change.
    let mut from_now = watch
        .watch_events(request(&[&tenant.name], None))
        .await
        .expect("watch from now")
        .into_inner();
    label(&mut tenants, &tenant.name, "next").await;
    assert_eq!(
        events(&mut from_now, 1).await[0].sequence,
        live[0].sequence + 1
    );
    server.stop().await;
}

async fn heartbeats_carry_the_stream_past_filtered_events(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut tenants = server.tenants();
    let watched = create(&mut tenants, "watched").await;
    let other = create(&mut tenants, "busy-other").await;
    let mut stream = admin(&server.channel)
        .watch_events(pb::WatchEventsRequest {
            tenants: vec![watched.name.clone()],
            after_sequence: Some(0),
            heartbeat_interval: Some(prost_types::Duration {
                seconds: 1,
                nanos: 0,
            }),
            ..Default::default()
        })
        .await
        .expect("watch")
        .into_inner();
    let created = events(&mut stream, 1).await;
    for step in 0..3 {
        label(&mut tenants, &other.name, &step.to_string()).await;
    }
    let mut all = admin(&server.channel)
        .watch_events(request(&[&other.name], Some(0)))
        .await
        .expect("watch the other")
        .into_inner();
    let newest = events(&mut all, 4).await[3].sequence;
    // The filtered stream says nothing but heartbeats, which move past the
    // other tenant's events.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let message = next(&mut stream, Duration::from_secs(5)).await;
        assert!(
            matches!(message.kind, Some(Kind::Heartbeat(_))),
            "{message:?}"
        );
        if message.sequence >= newest {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no heartbeat covered {newest}"
        );
    }
    assert!(created[0].sequence < newest);
    server.stop().await;
}

async fn sequences_out_of_range_are_refused(backend: Backend) {
    let server = TestServer::start_with(backend, |config| {
        config.events.retention = chrono::Duration::seconds(1);
    })
    .await;
    let mut tenants = server.tenants();
    let tenant = create(&mut tenants, "expiring").await;
    let mut watch = admin(&server.channel);
    let ahead = watch
        .watch_events(request(&[], Some(1_000_000)))
        .await
        .expect_err("a sequence ahead of the log");
    assert_error(&ahead, Code::OutOfRange, "SEQUENCE_OUT_OF_RANGE");

    // Once the creation is past the retention, resuming before it is refused
    // with the oldest sequence kept.
    let oldest = loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        label(&mut tenants, &tenant.name, "keeps-the-log-moving").await;
        match watch.watch_events(request(&[], Some(0))).await {
            Ok(_) => continue,
            Err(status) => {
                assert_error(&status, Code::OutOfRange, "SEQUENCE_OUT_OF_RANGE");
                let info =
                    tonic_types::StatusExt::get_details_error_info(&status).expect("error info");
                break info.metadata["oldest_available_sequence"]
                    .parse::<i64>()
                    .expect("a sequence");
            }
        }
    };
    assert!(oldest > 1, "the creation was pruned");
    // Resuming where the log now starts is served, unless pruning moved on
    // meanwhile, which the refusal then says.
    match watch.watch_events(request(&[], Some(oldest - 1))).await {
        Ok(_) => {}
        Err(status) => {
            assert_error(&status, Code::OutOfRange, "SEQUENCE_OUT_OF_RANGE");
            let info = tonic_types::StatusExt::get_details_error_info(&status).expect("info");
            assert!(
                info.metadata["oldest_available_sequence"]
                    .parse::<i64>()
                    .expect("n")
                    > oldest
            );
        }
    }
    server.stop().await;
}

async fn hostile_watch_requests_are_refused_field_by_field(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut watch = admin(&server.channel);
    let refused = watch
        .watch_events(pb::WatchEventsRequest {
            event_types: vec![
                "tenant.created".to_owned(),
                "tenant.exploded".to_owned(),
                "dev.tenantd.domain.verified.v1".to_owned(),
                "x".repeat(10_000),
            ],
            tenants: vec![
                "tenants/not-a-uuid".to_owned(),
                "acme".to_owned(),
                format!("tenants/{}", uuid::Uuid::now_v7()),
            ],
            after_sequence: Some(-1),
            heartbeat_interval: Some(prost_types::Duration {
                seconds: 0,
                nanos: 0,
            }),
        })
        .await
        .expect_err("refused");
    let mut fields = invalid_fields(&refused);
    fields.sort();
    assert_eq!(
        fields,
        [
            "after_sequence",
            "event_types[1]",
            "event_types[3]",
            "heartbeat_interval",
            "tenants[0]",
            "tenants[1]",
        ]
    );
    let too_many = watch
        .watch_events(pb::WatchEventsRequest {
            event_types: vec!["tenant.created".to_owned(); 51],
            tenants: vec![format!("tenants/{}", uuid::Uuid::now_v7()); 101],
            ..Default::default()
        })
        .await
        .expect_err("refused");
    let mut fields = invalid_fields(&too_many);
    fields.sort();
    assert_eq!(fields, ["event_types", "tenants"]);
    server.stop().await;
}

async fn events_are_cloud_events_with_the_resource_as_data(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut tenants = server.tenants();
    let tenant = create(&mut tenants, "cloudy").await;
    let mut stream = admin(&server.channel)
        .watch_events(request(&[&tenant.name], Some(0)))
        .await
        .expect("watch")
        .into_inner();
    let created: Seen = events(&mut stream, 1).await.remove(0);
    assert_eq!(created.event.spec_version, "1.0");
    assert_eq!(created.event.r#type, "dev.tenantd.tenant.created.v1");
    assert_eq!(created.event.source, "//tenantd");
    assert!(uuid::Uuid::parse_str(&created.event.id).is_ok());
    assert_eq!(created.attribute("subject"), Some(tenant.name.clone()));
    assert_eq!(created.attribute("resource"), Some(tenant.name.clone()));
    assert_eq!(created.attribute("tenantid"), Some(tenant.id.clone()));
    assert_eq!(
        created.attribute("datacontenttype").as_deref(),
        Some("application/json")
    );
    assert_eq!(
        created.attribute("sequence"),
        Some(format!("{:020}", created.sequence))
    );
    assert!(created.event.attributes.contains_key("time"));
    let data = created.data();
    assert_eq!(data["slug"], "cloudy");
    assert_eq!(data["id"], tenant.id);
    server.stop().await;
}

async fn a_tenant_key_sees_only_its_own_tenant(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut tenants = server.tenants();
    let own = create(&mut tenants, "own-events").await;
    let other = create(&mut tenants, "other-events").await;
    let key = |scopes: &[&str], parent: &str| pb::CreateApiKeyRequest {
        parent: parent.to_owned(),
        api_key: Some(pb::ApiKey {
            display_name: "events".into(),
            scopes: scopes.iter().map(|scope| (*scope).to_owned()).collect(),
            ..Default::default()
        }),
    };
    let reader = tenants
        .create_api_key(key(&["events:read"], &own.name))
        .await
        .expect("key")
        .into_inner()
        .secret;
    let unscoped = tenants
        .create_api_key(key(&["tenant:read"], &own.name))
        .await
        .expect("key")
        .into_inner()
        .secret;
    label(&mut tenants, &other.name, "private").await;
    label(&mut tenants, &own.name, "mine").await;

    let mut as_key = as_caller(&server.channel, Credentials::bearer(&reader));
    let mut stream = as_key
        .watch_events(request(&[], Some(0)))
        .await
        .expect("a key watches its tenant")
        .into_inner();
    let seen = events(&mut stream, 3).await;
    for event in &seen {
        assert_eq!(
            event.attribute("tenantid"),
            Some(own.id.clone()),
            "{event:?}"
        );
    }
    assert_eq!(
        seen.iter().map(Seen::short_type).collect::<Vec<_>>(),
        ["tenant.created", "api_key.created", "api_key.created"]
    );
    for event in &seen[1..] {
        let data = event.data().to_string();
        assert!(
            !data.contains(&reader) && !data.contains(&unscoped),
            "a secret in {data}"
        );
    }
    assert_eq!(
        events(&mut stream, 1).await[0].data()["labels"]["step"],
        "mine"
    );
    label(&mut tenants, &other.name, "still-private").await;
    no_event_within(&mut stream, Duration::from_millis(500)).await;

    let named_other = as_key
        .watch_events(request(&[&other.name], Some(0)))
        .await
        .expect_err("another tenant's events");
    assert_error(&named_other, Code::PermissionDenied, "TENANT_MISMATCH");
    let lacking = as_caller(&server.channel, Credentials::bearer(&unscoped))
        .watch_events(request(&[], Some(0)))
        .await
        .expect_err("a key without events:read");
    assert_error(&lacking, Code::PermissionDenied, "SCOPE_MISSING");

    // A service sees the fleet.
    let mut fleet = as_caller(&server.channel, Credentials::bearer(SERVICE_TOKEN))
        .watch_events(request(&[], Some(0)))
        .await
        .expect("a service watches the fleet")
        .into_inner();
    let subjects: std::collections::BTreeSet<String> = events(&mut fleet, 7)
        .await
        .iter()
        .filter_map(|seen| seen.attribute("subject"))
        .collect();
    assert!(subjects.contains(&own.name) && subjects.contains(&other.name));
    server.stop().await;
}

backend_tests!(
    the_stream_resumes_exactly_after_a_sequence,
    heartbeats_carry_the_stream_past_filtered_events,
    sequences_out_of_range_are_refused,
    hostile_watch_requests_are_refused_field_by_field,
    events_are_cloud_events_with_the_resource_as_data,
    a_tenant_key_sees_only_its_own_tenant,
);
