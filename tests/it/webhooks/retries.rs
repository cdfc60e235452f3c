//! A receiver that fails: it sees the same `webhook-id` again and again,
//! further apart each time, until the retry window closes and the
//! delivery is dead-lettered; a redelivery then reaches it, verified, with
//! that id still.

use std::time::{Duration, Instant};

use tenantd::pb;

use super::receiver::{Receiver, admin, create_endpoint, deliveries};
use crate::backend_tests;
use crate::support::{Backend, TestServer, fixtures};

backend_tests!(a_failing_receiver_sees_spreading_retries_then_a_dead_letter);

async fn a_failing_receiver_sees_spreading_retries_then_a_dead_letter(backend: Backend) {
    let server = TestServer::start_with(backend, |config| {
        config.webhooks.policy.allowed = vec!["127.0.0.1/32".parse().expect("cidr")];
        config.webhooks.poll_interval = Duration::from_millis(25);
        config.webhooks.backoff_base = Duration::from_millis(400);
        config.webhooks.retry_window = Duration::from_secs(4);
    })
    .await;
    let mut tenants = server.tenants();
    let tenant = fixtures::create(&mut tenants, "failing").await;
    let receiver = Receiver::start();
    receiver.set_status(500).await;
    let mut webhooks = admin(&server.channel);
    let (endpoint, secret) = create_endpoint(
        &mut webhooks,
        &tenant.name,
        &receiver.url("/hook"),
        &["domain.added"],
    )
    .await;
    receiver.set_secret(&secret).await;
    fixtures::create_domain(&mut tenants, &tenant.name, "failing.example.com").await;

    let deadline = Instant::now() + Duration::from_secs(30);
    let dead = loop {
        let listed = deliveries(&mut webhooks, &endpoint.name).await;
        if let Some(dead) = listed
            .iter()
            .find(|delivery| delivery.state == pb::WebhookDeliveryState::Dead as i32)
        {
            break dead.clone();
        }
        assert!(Instant::now() < deadline, "never dead-lettered: {listed:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let records = receiver.records().await;
    assert!(records.len() >= 4, "too few retries: {records:?}");
    assert_eq!(
        records.len(),
        dead.attempts.len(),
        "every attempt is listed"
    );
    let id = &records[0]["webhook_id"];
    for record in &records {
        assert_eq!(&record["webhook_id"], id, "a retry keeps its webhook-id");
        assert_eq!(record["verified"], true);
    }
    assert_eq!(id.as_str(), Some(dead.event_id.as_str()));
    let times: Vec<f64> = records
        .iter()
        .map(|record| record["received"].as_f64().expect("time"))
        .collect();
    let gaps: Vec<f64> = times.windows(2).map(|pair| pair[1] - pair[0]).collect();
    // The first three gaps are below the window's end, which may cut the
    // last one short; each is longer than the one before.
    for pair in gaps[..3].windows(2) {
        assert!(
            pair[1] > pair[0],
            "retries do not spread out: gaps {gaps:?}"
        );
    }
    assert!(
        dead.attempts
            .iter()
            .all(|attempt| attempt.status_code == 500)
    );

    receiver.set_status(200).await;
    let redelivered = webhooks
        .redeliver_webhook_delivery(pb::RedeliverWebhookDeliveryRequest {
            name: dead.name.clone(),
        })
        .await
        .expect("redeliver")
        .into_inner();
    assert_eq!(redelivered.state, pb::WebhookDeliveryState::Pending as i32);
    let before = records.len();
    let after = receiver
        .wait_for(Duration::from_secs(10), |records| records.len() > before)
        .await;
    let last = after.last().expect("the redelivery");
    assert_eq!(&last["webhook_id"], id, "a redelivery keeps its webhook-id");
    assert_eq!(last["verified"], true);
    assert_eq!(last["answered"], 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let listed = deliveries(&mut webhooks, &endpoint.name).await;
        if listed[0].state == pb::WebhookDeliveryState::Delivered as i32 {
            assert_eq!(listed[0].attempts.len(), before + 1);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the redelivery was not recorded: {listed:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let again = webhooks
        .redeliver_webhook_delivery(pb::RedeliverWebhookDeliveryRequest {
            name: dead.name.clone(),
        })
        .await;
    assert!(again.is_ok(), "a delivered event may be sent again");
    server.stop().await;
}
