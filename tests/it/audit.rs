//! The audit trail over real gRPC: every mutation leaves one event with its
//! actor, action, resource, request id and before/after; failed calls leave
//! none; ListAuditEvents filters and pages.

use prost_types::value::Kind;
use tenantd::pb;
use tonic::Request;
use tonic::metadata::MetadataValue;

use crate::support::fixtures::{Client, create, create_domain, mask};
use crate::support::status::invalid_fields;
use crate::support::{Backend, TestServer};

fn list_request(parent: &str, filter: &str) -> pb::ListAuditEventsRequest {
    pb::ListAuditEventsRequest {
        parent: parent.to_owned(),
        filter: filter.to_owned(),
        ..Default::default()
    }
}

async fn events(client: &mut Client, parent: &str, filter: &str) -> Vec<pb::AuditEvent> {
    client
        .list_audit_events(list_request(parent, filter))
        .await
        .expect("list audit events")
        .into_inner()
        .audit_events
}

fn actions(events: &[pb::AuditEvent]) -> Vec<&str> {
    events.iter().map(|event| event.action.as_str()).collect()
}

fn field<'a>(snapshot: &'a Option<prost_types::Struct>, key: &str) -> Option<&'a str> {
    match snapshot.as_ref()?.fields.get(key)?.kind.as_ref()? {
        Kind::StringValue(value) => Some(value),
        _ => None,
    }
}

fn with_request_id<T>(message: T, request_id: &str) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "x-request-id",
        MetadataValue::try_from(request_id).expect("ascii"),
    );
    request
}

async fn the_lifecycle_is_recorded(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = server.tenants();
    let acme = client
        .create_tenant(pb::CreateTenantRequest {
            tenant: Some(crate::support::fixtures::tenant("acme")),
            request_id: "0190a0c8-0000-7000-8000-00000000c0de".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut renamed = acme.clone();
    renamed.display_name = "Acme Corp".into();
    client
        .update_tenant(with_request_id(
            pb::UpdateTenantRequest {
                tenant: Some(renamed),
                update_mask: mask(&["display_name"]),
            },
            "rename-1",
        ))
        .await
        .unwrap();
    client
        .suspend_tenant(pb::SuspendTenantRequest {
            name: acme.name.clone(),
            reason: "unpaid".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    client
        .activate_tenant(pb::ActivateTenantRequest {
            name: acme.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let delete = pb::DeleteTenantRequest {
        name: acme.name.clone(),
        ..Default::default()
    };
    client.delete_tenant(delete.clone()).await.unwrap();
    client
        .undelete_tenant(pb::UndeleteTenantRequest {
            name: acme.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    // Failed calls change nothing and record nothing.
    let stale = pb::Tenant {
        etag: "stale".into(),
        ..acme.clone()
    };
    client
        .update_tenant(pb::UpdateTenantRequest {
            tenant: Some(stale),
            update_mask: mask(&["display_name"]),
        })
        .await
        .unwrap_err();
    client
        .undelete_tenant(pb::UndeleteTenantRequest {
            name: acme.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();

    let trail = events(&mut client, &acme.name, "").await;
    assert_eq!(
        actions(&trail),
        [
            "UndeleteTenant",
            "DeleteTenant",
            "ActivateTenant",
            "SuspendTenant",
            "UpdateTenant",
            "CreateTenant"
        ],
        "newest first"
    );
    for event in &trail {
        assert_eq!(event.resource, acme.name);
        assert_eq!(event.actor, "admin:test-admin");
        assert!(
            event
                .name
                .starts_with(&format!("{}/auditEvents/", acme.name)),
            "{}",
            event.name
        );
        assert!(event.create_time.is_some());
        assert!(!event.request_id.is_empty(), "every call has a request id");
    }
    let created = &trail[5];
    assert_eq!(created.request_id, "0190a0c8-0000-7000-8000-00000000c0de");
    assert!(created.before.is_none());
    assert_eq!(field(&created.after, "slug"), Some("acme"));
    let updated = &trail[4];
    assert_eq!(updated.request_id, "rename-1");
    assert_eq!(
        field(&updated.before, "display_name"),
        Some(acme.display_name.as_str())
    );
    assert_eq!(field(&updated.after, "display_name"), Some("Acme Corp"));
    let suspended = &trail[3];
    assert_eq!(field(&suspended.before, "state"), Some("ACTIVE"));
    assert_eq!(field(&suspended.after, "state"), Some("SUSPENDED"));
    assert_eq!(field(&suspended.after, "state_reason"), Some("unpaid"));
    assert_eq!(field(&trail[1].after, "state"), Some("DELETED"));

    let by_slug = events(&mut client, "tenants/slug:acme", "").await;
    assert_eq!(by_slug, trail, "the slug alias names the same trail");
    server.stop().await;
}

async fn filters_select_events(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = server.tenants();
    let acme = create(&mut client, "acme").await;
    let globex = create(&mut client, "globex").await;
    for tenant in [&acme, &globex] {
        client
            .suspend_tenant(with_request_id(
                pb::SuspendTenantRequest {
                    name: tenant.name.clone(),
                    reason: "audit".into(),
                    ..Default::default()
                },
                &format!("suspend-{}", tenant.slug),
            ))
            .await
            .unwrap();
    }

    let everything = events(&mut client, "tenants/-", "").await;
    assert_eq!(
        actions(&everything),
        [
            "SuspendTenant",
            "SuspendTenant",
            "CreateTenant",
            "CreateTenant"
        ]
    );
    let suspensions = events(&mut client, "tenants/-", r#"action = "SuspendTenant""#).await;
    assert_eq!(suspensions.len(), 2);
    let of_acme = events(&mut client, &acme.name, r#"action = "SuspendTenant""#).await;
    assert_eq!(of_acme.len(), 1);
    assert_eq!(of_acme[0].request_id, "suspend-acme");
    let by_request = events(&mut client, "tenants/-", r#"request_id = "suspend-globex""#).await;
    assert_eq!(by_request.len(), 1);
    assert_eq!(by_request[0].resource, globex.name);
    let by_resource = events(
        &mut client,
        "tenants/-",
        &format!(r#"resource = "{}""#, acme.name),
    )
    .await;
    assert_eq!(by_resource.len(), 2);

    let newest = everything[0].create_time.expect("create_time");
    let oldest = everything[3].create_time.expect("create_time");
    let rfc3339 = |at: prost_types::Timestamp| {
        chrono::DateTime::from_timestamp(at.seconds, at.nanos as u32)
            .expect("timestamp")
            .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
    };
    let since_newest = events(
        &mut client,
        "tenants/-",
        &format!(r#"create_time >= "{}""#, rfc3339(newest)),
    )
    .await;
    assert!(
        !since_newest.is_empty()
            && since_newest.iter().all(|event| {
                let at = event.create_time.expect("create_time");
                (at.seconds, at.nanos) >= (newest.seconds, newest.nanos)
            })
    );
    let before_oldest = events(
        &mut client,
        "tenants/-",
        &format!(r#"create_time < "{}""#, rfc3339(oldest)),
    )
    .await;
    assert!(before_oldest.is_empty(), "{before_oldest:?}");
    let window = events(
        &mut client,
        "tenants/-",
        &format!(
            r#"create_time >= "{}" AND create_time <= "{}" AND actor = "admin:test-admin""#,
            rfc3339(oldest),
            rfc3339(newest)
        ),
    )
    .await;
    assert_eq!(window, everything);
    assert!(
        events(&mut client, "tenants/-", r#"actor = "someone""#)
            .await
            .is_empty()
    );

    for bad in [
        "action",
        r#"colour = "red""#,
        r#"action > "x""#,
        r#"create_time >= "yesterday""#,
        r#"action = "x" OR actor = "y""#,
    ] {
        let status = client
            .list_audit_events(list_request("tenants/-", bad))
            .await
            .unwrap_err();
        assert_eq!(invalid_fields(&status), ["filter"], "for {bad:?}");
    }
    let bad_parent = client
        .list_audit_events(list_request("tenants", ""))
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&bad_parent), ["parent"]);
    server.stop().await;
}

async fn pages_cover_the_trail_once(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = server.tenants();
    let acme = create(&mut client, "acme").await;
    for round in 0..12 {
        let mut changed = client
            .get_tenant(crate::support::fixtures::name_request(&acme.name))
            .await
            .unwrap()
            .into_inner();
        changed.display_name = format!("Acme {round}");
        client
            .update_tenant(pb::UpdateTenantRequest {
                tenant: Some(changed),
                update_mask: mask(&["display_name"]),
            })
            .await
            .unwrap();
    }
    let everything = events(&mut client, &acme.name, "").await;
    assert_eq!(everything.len(), 13);

    let mut paged = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_audit_events(pb::ListAuditEventsRequest {
                parent: acme.name.clone(),
                page_size: 5,
                page_token: page_token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.audit_events.len() <= 5);
        paged.extend(page.audit_events);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(paged, everything, "pages lose and repeat nothing");

    let first = client
        .list_audit_events(pb::ListAuditEventsRequest {
            parent: acme.name.clone(),
            page_size: 5,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let changed_filter = client
        .list_audit_events(pb::ListAuditEventsRequest {
            parent: acme.name.clone(),
            page_size: 5,
            page_token: first.next_page_token,
            filter: r#"action = "UpdateTenant""#.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&changed_filter), ["page_token"]);
    server.stop().await;
}

async fn domain_changes_are_recorded(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = server.tenants();
    let acme = create(&mut client, "acme").await;
    let domain = create_domain(&mut client, &acme.name, "shop.example.com").await;
    client
        .delete_domain(pb::DeleteDomainRequest {
            name: domain.name.clone(),
        })
        .await
        .unwrap();

    let trail = events(
        &mut client,
        &acme.name,
        &format!(r#"resource = "{}""#, domain.name),
    )
    .await;
    assert_eq!(actions(&trail), ["DeleteDomain", "CreateDomain"]);
    assert_eq!(field(&trail[1].after, "hostname"), Some("shop.example.com"));
    assert!(trail[1].before.is_none());
    assert_eq!(
        field(&trail[0].before, "hostname"),
        Some("shop.example.com")
    );
    assert!(trail[0].after.is_none());
    server.stop().await;
}

crate::backend_tests!(
    the_lifecycle_is_recorded,
    filters_select_events,
    pages_cover_the_trail_once,
    domain_changes_are_recorded,
);
