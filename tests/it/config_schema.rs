//! The operator's configuration schema (`--config-schema-file`) and the
//! fleet-wide check: a change of the defaults or of a plan layer is refused
//! when it would leave any tenant it reaches with an effective
//! configuration the schema refuses, naming the JSON pointer and the
//! tenant; tenants it does not reach do not count.

use serde_json::json;
use tenantd::pb;
use tonic::Code;

use crate::config::{client, get, update};
use crate::support::fixtures::create;
use crate::support::server::ADMIN_TOKEN;
use crate::support::status::assert_error;
use crate::support::{Backend, TestServer};

/// At most three limits, whichever layers set them.
const SCHEMA: &str = r#"{
  "type": "object",
  "properties": {
    "limits": {"type": "object", "maxProperties": 3},
    "region": {"enum": ["eu", "us"]}
  }
}"#;

fn violation(status: &tonic::Status) -> (String, String) {
    let details = tonic_types::StatusExt::get_error_details(status);
    let bad_request = details.bad_request().expect("a BadRequest");
    let first = bad_request.field_violations.first().expect("a violation");
    (first.field.clone(), first.description.clone())
}

async fn the_operators_schema_is_enforced_across_the_fleet(backend: Backend) {
    let file = std::env::temp_dir().join(format!("tenantd-schema-{}.json", uuid::Uuid::now_v7()));
    std::fs::write(&file, SCHEMA).expect("write the schema");
    let path = file.clone();
    let server = TestServer::start_with(backend, move |config| {
        config.config_schema_file = Some(path);
    })
    .await;
    let starter = create(&mut server.tenants(), "schema-starter").await;
    let mut admin = client(&server, ADMIN_TOKEN);

    let own = format!("{}/config", starter.name);
    let refused = update(&mut admin, &own, json!({"region": "mars"}), &[], "")
        .await
        .expect_err("not in the enum");
    assert_error(&refused, Code::InvalidArgument, "INVALID_ARGUMENT");
    assert_eq!(violation(&refused).0, "/region");

    update(
        &mut admin,
        &own,
        json!({"limits": {"a": 1, "b": 1}}),
        &[],
        "",
    )
    .await
    .expect("two limits are fine");
    // Two more defaults would give the tenant four.
    let refused = update(
        &mut admin,
        "defaults/config",
        json!({"limits": {"c": 1, "d": 1}}),
        &[],
        "",
    )
    .await
    .expect_err("breaks a tenant");
    assert_error(&refused, Code::InvalidArgument, "INVALID_ARGUMENT");
    let (field, description) = violation(&refused);
    assert_eq!(field, "/limits");
    assert!(description.contains(&starter.name), "{description}");
    let defaults = get(&mut admin, "defaults/config", pb::ConfigView::Layer).await;
    assert_eq!(defaults.version, 0, "nothing was written");

    // A plan layer reaches only that plan's tenants.
    let refused = update(
        &mut admin,
        &format!("plans/{}/config", starter.plan),
        json!({"limits": {"c": 1, "d": 1}}),
        &[],
        "",
    )
    .await
    .expect_err("breaks the tenant on the plan");
    assert_eq!(violation(&refused).0, "/limits");
    update(
        &mut admin,
        "plans/enterprise/config",
        json!({"limits": {"c": 1, "d": 1}}),
        &[],
        "",
    )
    .await
    .expect("no enterprise tenant has limits of its own");
    update(
        &mut admin,
        "defaults/config",
        json!({"limits": {"c": 1}}),
        &[],
        "",
    )
    .await
    .expect("three limits are fine");
    server.stop().await;
    let _ = std::fs::remove_file(file);
}

crate::backend_tests!(the_operators_schema_is_enforced_across_the_fleet);
