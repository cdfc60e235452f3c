//! Onboarding input of CreateTenant, as an onboarding service sees it: the
//! `tenant.created` event carries the first administrator's address and
//! the attributes (and nothing else does); a replayed create makes no
//! second event; hostile input is refused field by field.

use std::collections::HashMap;

use tenantd::pb;

use crate::backend_tests;
use crate::support::event_log::{events_of, types_of};
use crate::support::fixtures::{Client, name_request};
use crate::support::status::invalid_fields;
use crate::support::{Backend, TestServer};

fn request(
    slug: &str,
    email: &str,
    attributes: HashMap<String, String>,
) -> pb::CreateTenantRequest {
    pb::CreateTenantRequest {
        tenant: Some(pb::Tenant {
            slug: slug.to_owned(),
            ..Default::default()
        }),
        initial_admin_email: email.to_owned(),
        onboarding_attributes: attributes,
        ..Default::default()
    }
}

async fn create(client: &mut Client, request: pb::CreateTenantRequest) -> pb::Tenant {
    client
        .create_tenant(request)
        .await
        .expect("create")
        .into_inner()
}

async fn the_created_event_carries_onboarding(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = server.tenants();
    let attributes = HashMap::from([
        ("signup_source".to_owned(), "web".to_owned()),
        ("Company Size".to_owned(), "51–200 people".to_owned()),
    ]);
    let mut first = request("welcomed", "Ann.Lee+ops@Example.COM", attributes);
    first.request_id = uuid::Uuid::new_v4().to_string();
    let created = create(&mut client, first.clone()).await;
    // A retry of the same request answers the same tenant, and no event.
    let replayed = create(&mut client, first).await;
    assert_eq!(replayed.name, created.name);

    let events = events_of(&server, &created.name, &[]).await;
    assert_eq!(types_of(&events), ["tenant.created"], "{events:#?}");
    let data = &events[0].data;
    assert_eq!(data["slug"], "welcomed");
    assert_eq!(
        data["onboarding"],
        serde_json::json!({
            "initial_admin_email": "Ann.Lee+ops@example.com",
            "attributes": {"Company Size": "51–200 people", "signup_source": "web"},
        })
    );

    // Not stored on the tenant: later events and reads do not carry it.
    let tenant = client
        .get_tenant(name_request(&created.name))
        .await
        .expect("get")
        .into_inner();
    client
        .update_tenant(pb::UpdateTenantRequest {
            tenant: Some(pb::Tenant {
                name: tenant.name.clone(),
                display_name: "Welcomed Ltd".to_owned(),
                ..Default::default()
            }),
            update_mask: crate::support::fixtures::mask(&["display_name"]),
        })
        .await
        .expect("update");
    let events = events_of(&server, &created.name, &["tenant.updated"]).await;
    assert_eq!(events.len(), 1);
    assert!(events[0].data.get("onboarding").is_none(), "{events:#?}");

    // Without onboarding input the created event has no such object.
    let plain = create(&mut client, request("plain", "", HashMap::new())).await;
    let events = events_of(&server, &plain.name, &["tenant.created"]).await;
    assert_eq!(events.len(), 1);
    assert!(events[0].data.get("onboarding").is_none(), "{events:#?}");
    server.stop().await;
}

async fn hostile_onboarding_input_is_refused_field_by_field(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = server.tenants();
    let long_key = "k".repeat(65);
    let attributes = HashMap::from([
        ("fine".to_owned(), "fine".to_owned()),
        ("ctl".to_owned(), "line\nbreak".to_owned()),
        ("big".to_owned(), "v".repeat(513)),
        (long_key.clone(), "x".to_owned()),
        (String::new(), "empty key".to_owned()),
    ]);
    let refused = client
        .create_tenant(request("hostile", "root@localhost", attributes))
        .await
        .expect_err("refused");
    let mut fields = invalid_fields(&refused);
    fields.sort();
    let mut expected = vec![
        "initial_admin_email".to_owned(),
        "onboarding_attributes[\"\"]".to_owned(),
        "onboarding_attributes[\"big\"]".to_owned(),
        "onboarding_attributes[\"ctl\"]".to_owned(),
        format!("onboarding_attributes[\"{}\"]", &long_key[..64]),
    ];
    expected.sort();
    assert_eq!(fields, expected);

    // Too many attributes is one violation, named with the bad slug's.
    let many: HashMap<String, String> = (0..33)
        .map(|index| (format!("k{index}"), String::new()))
        .collect();
    let refused = client
        .create_tenant(request("Bad Slug", "x@example.com", many))
        .await
        .expect_err("refused");
    let mut fields = invalid_fields(&refused);
    fields.sort();
    assert_eq!(fields, ["onboarding_attributes", "tenant.slug"]);

    for email in [
        "no-at-sign",
        "two@@example.com",
        "ann@127.0.0.1",
        "a b@example.com",
        &format!("{}@example.com", "a".repeat(65)),
        &format!("a@{}.example.com", "b".repeat(250)),
    ] {
        let refused = client
            .create_tenant(request("hostile", email, HashMap::new()))
            .await
            .expect_err(email);
        assert_eq!(invalid_fields(&refused), ["initial_admin_email"], "{email}");
    }
    let listed = client
        .list_tenants(pb::ListTenantsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert!(listed.tenants.is_empty(), "nothing was created");
    server.stop().await;
}

backend_tests!(
    the_created_event_carries_onboarding,
    hostile_onboarding_input_is_refused_field_by_field
);
