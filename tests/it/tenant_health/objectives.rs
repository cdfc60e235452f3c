//! Plans' objectives over real gRPC: validated with a field violation
//! per bad field (a threshold off the bucket bounds names the allowed
//! ones), and round-tripped through CreatePlan, UpdatePlan and GetPlan.

use tenantd::pb;
use tonic::Code;
use tonic_types::StatusExt;

use super::{millis, objectives};
use crate::quota::quotas;
use crate::support::fixtures::mask;
use crate::support::status::{assert_error, invalid_fields};
use crate::support::{Backend, TestServer};

crate::backend_tests!(objectives_round_trip, objectives_are_validated);

fn create_request(id: &str, objectives: Option<pb::ServiceObjectives>) -> pb::CreatePlanRequest {
    pb::CreatePlanRequest {
        plan: Some(pb::Plan {
            display_name: id.to_owned(),
            objectives,
            ..Default::default()
        }),
        plan_id: id.to_owned(),
        request_id: String::new(),
    }
}

async fn objectives_round_trip(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = quotas(&server);
    let created = client
        .create_plan(create_request("gold", Some(objectives(250))))
        .await
        .expect("create a plan with objectives")
        .into_inner();
    assert_eq!(created.objectives, Some(objectives(250)));
    let read = |name: &str| pb::GetPlanRequest {
        name: name.to_owned(),
    };
    let fetched = client.get_plan(read("plans/gold")).await.expect("get");
    assert_eq!(fetched.into_inner().objectives, Some(objectives(250)));

    // Replaced as a whole through the mask.
    let tighter = pb::ServiceObjectives {
        availability: 0.99999,
        ..objectives(2_500)
    };
    let updated = client
        .update_plan(pb::UpdatePlanRequest {
            plan: Some(pb::Plan {
                name: "plans/gold".to_owned(),
                objectives: Some(tighter),
                ..Default::default()
            }),
            update_mask: mask(&["objectives"]),
        })
        .await
        .expect("tighten the objectives")
        .into_inner();
    assert_eq!(updated.objectives, Some(tighter));
    // Another field changed without a mask keeps them.
    let renamed = client
        .update_plan(pb::UpdatePlanRequest {
            plan: Some(pb::Plan {
                name: "plans/gold".to_owned(),
                display_name: "Gold".to_owned(),
                ..Default::default()
            }),
            update_mask: None,
        })
        .await
        .expect("rename")
        .into_inner();
    assert_eq!(renamed.objectives, Some(tighter));
    // Named in the mask and unset, they go.
    let cleared = client
        .update_plan(pb::UpdatePlanRequest {
            plan: Some(pb::Plan {
                name: "plans/gold".to_owned(),
                ..Default::default()
            }),
            update_mask: mask(&["objectives"]),
        })
        .await
        .expect("remove the objectives")
        .into_inner();
    assert_eq!(cleared.objectives, None);
    let fetched = client.get_plan(read("plans/gold")).await.expect("get");
    assert_eq!(fetched.into_inner().objectives, None);
    // The seeded plans declare none.
    let starter = client.get_plan(read("plans/starter")).await.expect("get");
    assert_eq!(starter.into_inner().objectives, None);

    // A retry with the same request id returns the first plan; different
    // objectives under that id are another request.
    let request_id = uuid::Uuid::new_v4().to_string();
    let idempotent = |objectives: pb::ServiceObjectives| pb::CreatePlanRequest {
        request_id: request_id.clone(),
        ..create_request("silver", Some(objectives))
    };
    let first = client.create_plan(idempotent(objectives(100))).await;
    let again = client.create_plan(idempotent(objectives(100))).await;
    assert_eq!(
        first.expect("create").into_inner(),
        again.expect("retry").into_inner()
    );
    let other = client
        .create_plan(idempotent(objectives(500)))
        .await
        .expect_err("the request id names another request");
    assert_eq!(other.code(), Code::InvalidArgument);
    server.stop().await;
}

async fn objectives_are_validated(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = quotas(&server);
    let refused = |objectives: pb::ServiceObjectives| create_request("bad", Some(objectives));

    let nothing = client
        .create_plan(refused(pb::ServiceObjectives::default()))
        .await
        .expect_err("every field is required");
    assert_eq!(
        invalid_fields(&nothing),
        [
            "plan.objectives.availability",
            "plan.objectives.latency_threshold",
            "plan.objectives.latency_target",
        ]
    );
    for availability in [1.0, 0.999991, -0.1, f64::NAN] {
        let status = client
            .create_plan(refused(pb::ServiceObjectives {
                availability,
                ..objectives(250)
            }))
            .await
            .expect_err("outside (0, 0.99999]");
        assert_eq!(invalid_fields(&status), ["plan.objectives.availability"]);
    }
    let off_bound = client
        .create_plan(refused(objectives(300)))
        .await
        .expect_err("300ms is no bucket bound");
    assert_eq!(
        invalid_fields(&off_bound),
        ["plan.objectives.latency_threshold"]
    );
    let described = &off_bound
        .get_details_bad_request()
        .expect("BadRequest")
        .field_violations[0]
        .description;
    assert!(
        described.contains("1ms, 2.5ms, 5ms") && described.contains("10s"),
        "the allowed values are named: {described}"
    );
    let negative = client
        .create_plan(refused(pb::ServiceObjectives {
            latency_threshold: Some(millis(-250)),
            ..objectives(250)
        }))
        .await
        .expect_err("a negative threshold");
    assert_eq!(
        invalid_fields(&negative),
        ["plan.objectives.latency_threshold"]
    );
    // Hostile durations: out of range, malformed, beyond any bound.
    for latency_threshold in [
        prost_types::Duration {
            seconds: i64::MAX,
            nanos: 999_999_999,
        },
        prost_types::Duration {
            seconds: 1,
            nanos: -5,
        },
        prost_types::Duration {
            seconds: 0,
            nanos: 2_000_000_000,
        },
    ] {
        let status = client
            .create_plan(refused(pb::ServiceObjectives {
                latency_threshold: Some(latency_threshold),
                availability: f64::INFINITY,
                ..objectives(250)
            }))
            .await
            .expect_err("no bound");
        assert_eq!(
            invalid_fields(&status),
            [
                "plan.objectives.availability",
                "plan.objectives.latency_threshold"
            ]
        );
    }
    let target = client
        .create_plan(refused(pb::ServiceObjectives {
            latency_target: 1.0,
            ..objectives(250)
        }))
        .await
        .expect_err("a latency target of 1");
    assert_eq!(invalid_fields(&target), ["plan.objectives.latency_target"]);

    // UpdatePlan validates them the same way and changes nothing.
    client
        .create_plan(create_request("kept", Some(objectives(250))))
        .await
        .expect("create");
    let update = client
        .update_plan(pb::UpdatePlanRequest {
            plan: Some(pb::Plan {
                name: "plans/kept".to_owned(),
                objectives: Some(objectives(7)),
                ..Default::default()
            }),
            update_mask: mask(&["objectives"]),
        })
        .await
        .expect_err("7ms is no bucket bound");
    assert_eq!(
        invalid_fields(&update),
        ["plan.objectives.latency_threshold"]
    );
    let kept = client
        .get_plan(pb::GetPlanRequest {
            name: "plans/kept".to_owned(),
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(kept.objectives, Some(objectives(250)));
    assert_error(&update, Code::InvalidArgument, "INVALID_ARGUMENT");
    server.stop().await;
}
