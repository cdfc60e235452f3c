//! ListTenants over real gRPC: keyset paging that neither loses nor repeats
//! tenants, page tokens bound to their query, and filters.

use std::collections::{HashMap, HashSet};

use tenantd::pb;

use crate::support::fixtures::{name_request, tenant};
use crate::support::status::invalid_fields;
use crate::support::{Backend, TestServer};

async fn paging_loses_and_repeats_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = server.tenants();
    let mut created = HashSet::new();
    for index in 0..250 {
        let mut request = tenant(&format!("tenant-{index:03}"));
        request.plan = if index % 5 == 0 {
            "enterprise".into()
        } else {
            "starter".into()
        };
        let tenant = client
            .create_tenant(pb::CreateTenantRequest {
                tenant: Some(request),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        created.insert(tenant.id);
    }
    let mut seen = Vec::new();
    let mut page_sizes = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_tenants(pb::ListTenantsRequest {
                page_size: 100,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        page_sizes.push(page.tenants.len());
        seen.extend(page.tenants.into_iter().map(|tenant| tenant.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(page_sizes, vec![100, 100, 50]);
    let unique: HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no tenant repeated");
    assert_eq!(unique, created, "no tenant lost");

    let first = client
        .list_tenants(pb::ListTenantsRequest {
            page_size: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let changed_filter = client
        .list_tenants(pb::ListTenantsRequest {
            page_size: 10,
            page_token: first.next_page_token.clone(),
            filter: "plan = enterprise".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&changed_filter), vec!["page_token"]);
    let garbage = client
        .list_tenants(pb::ListTenantsRequest {
            page_token: "not-a-token".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&garbage), vec!["page_token"]);
    let negative = client
        .list_tenants(pb::ListTenantsRequest {
            page_size: -1,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&negative), vec!["page_size"]);

    let enterprise = client
        .list_tenants(pb::ListTenantsRequest {
            page_size: 1000,
            filter: "plan = \"enterprise\"".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(enterprise.tenants.len(), 50);
    assert!(enterprise.next_page_token.is_empty());
    server.stop().await;
}

async fn list_filters(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = server.tenants();
    for (slug, env) in [("alpha", "prod"), ("bravo", "prod"), ("charlie", "dev")] {
        let mut request = tenant(slug);
        request.labels = HashMap::from([("env".into(), env.into())]);
        client
            .create_tenant(pb::CreateTenantRequest {
                tenant: Some(request),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let bravo = client
        .get_tenant(name_request("tenants/slug:bravo"))
        .await
        .unwrap()
        .into_inner();
    client
        .suspend_tenant(pb::SuspendTenantRequest {
            name: bravo.name.clone(),
            reason: "audit".into(),
            ..Default::default()
        })
        .await
        .unwrap();

    let slugs = |response: pb::ListTenantsResponse| -> Vec<String> {
        let mut slugs: Vec<String> = response
            .tenants
            .into_iter()
            .map(|tenant| tenant.slug)
            .collect();
        slugs.sort();
        slugs
    };
    let filtered = |filter: &str| pb::ListTenantsRequest {
        filter: filter.into(),
        ..Default::default()
    };
    let prod = client
        .list_tenants(filtered("labels.env = \"prod\""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(slugs(prod), vec!["alpha", "bravo"]);
    let suspended = client
        .list_tenants(filtered("state = SUSPENDED"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(slugs(suspended), vec!["bravo"]);
    let both = client
        .list_tenants(filtered(
            "labels.env = prod AND state = TENANT_STATE_ACTIVE AND plan = starter",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(slugs(both), vec!["alpha"]);
    let none = client
        .list_tenants(filtered("labels.missing = x"))
        .await
        .unwrap()
        .into_inner();
    assert!(none.tenants.is_empty());

    for bad in [
        "state = SLEEPING",
        "colour = red",
        "plan > a",
        "state = ACTIVE OR plan = x",
        "labels.env = \"open",
    ] {
        let status = client.list_tenants(filtered(bad)).await.unwrap_err();
        assert_eq!(invalid_fields(&status), vec!["filter"], "{bad}");
    }
    server.stop().await;
}

crate::backend_tests!(paging_loses_and_repeats_nothing, list_filters);
