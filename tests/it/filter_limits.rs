//! Filters are bounded before any work: a filter of thousands of
//! comparisons (which once overflowed the server's stack while its query
//! was built) is refused as INVALID_ARGUMENT naming the limit, for a
//! tenant's own key on ListAuditEvents and for the operator on
//! ListTenants, and the server goes on serving.

use tenantd::pb;
use tonic_types::StatusExt;

use crate::context::issue_key;
use crate::support::fixtures::{create, name_request};
use crate::support::server::Credentials;
use crate::support::status::invalid_fields;
use crate::support::{Backend, TestServer};

/// `action = "x" AND …` with `count` comparisons.
fn comparisons(field: &str, count: usize) -> String {
    vec![format!("{field} = \"x\""); count].join(" AND ")
}

/// The description of the single `filter` violation of `status`.
#[track_caller]
fn filter_violation(status: &tonic::Status) -> String {
    assert_eq!(invalid_fields(status), ["filter"]);
    status
        .get_details_bad_request()
        .map(|details| details.field_violations[0].description.clone())
        .unwrap_or_default()
}

async fn huge_filters_are_refused_and_the_server_serves_on(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut operator = server.tenants();
    let acme = create(&mut operator, "acme").await;
    let (secret, _) = issue_key(&mut operator, &acme.name, &["audit:read"]).await;
    let mut tenant = server.tenants_as(Credentials::bearer(&secret));

    for count in [21, 1_000, 20_000] {
        let audit = tenant
            .list_audit_events(pb::ListAuditEventsRequest {
                parent: acme.name.clone(),
                filter: comparisons("action", count),
                ..Default::default()
            })
            .await
            .expect_err("a filter past the limits is refused");
        let described = filter_violation(&audit);
        let expected = if count == 21 {
            "at most 20 comparisons"
        } else {
            "at most 4096 bytes"
        };
        assert!(described.contains(expected), "{count}: {described}");

        let listing = operator
            .list_tenants(pb::ListTenantsRequest {
                filter: comparisons("plan", count),
                ..Default::default()
            })
            .await
            .expect_err("a filter past the limits is refused");
        assert!(filter_violation(&listing).contains(expected), "{count}");
    }

    // Twenty comparisons are within the limits, and the process is alive.
    let page = tenant
        .list_audit_events(pb::ListAuditEventsRequest {
            parent: acme.name.clone(),
            filter: comparisons("action", 20),
            ..Default::default()
        })
        .await
        .expect("twenty comparisons are served")
        .into_inner();
    assert!(page.audit_events.is_empty());
    let listed = operator
        .list_tenants(pb::ListTenantsRequest {
            filter: comparisons("plan", 20).replace("\"x\"", "\"starter\""),
            ..Default::default()
        })
        .await
        .expect("twenty comparisons are served")
        .into_inner();
    assert_eq!(listed.tenants.len(), 1);
    operator
        .get_tenant(name_request(&acme.name))
        .await
        .expect("the server still serves");
    server.stop().await;
}

crate::backend_tests!(huge_filters_are_refused_and_the_server_serves_on);
