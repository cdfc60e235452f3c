//! ExportTenant and ImportTenant of a POOL tenant: its control-plane rows
//! (tenant, key, quota and flag overrides, config versions) round-trip to
//! another tenantd, and SQLite refuses exports with a reason.

use tenantd::pb;
use tonic::Code;

use crate::support::db::postgres_available;
use crate::support::fixtures::name_request;
use crate::support::server::Credentials;
use crate::support::{Backend, TestServer};
use crate::tenant_export::{export, import, manifest};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_tenant_round_trips_its_control_plane_rows() {
    if !postgres_available().await {
        return;
    }
    let source = TestServer::start(Backend::Postgres).await;
    let mut client = source.tenants();
    let mut request = pb::Tenant {
        slug: "pool-export".to_owned(),
        display_name: "Pool Export".to_owned(),
        isolation: pb::IsolationModel::Pool.into(),
        ..Default::default()
    };
    request.labels.insert("tier".to_owned(), "gold".to_owned());
    let tenant = client
        .create_tenant(pb::CreateTenantRequest {
            tenant: Some(request),
            ..Default::default()
        })
        .await
        .expect("create a POOL tenant")
        .into_inner();
    let key = client
        .create_api_key(pb::CreateApiKeyRequest {
            parent: tenant.name.clone(),
            api_key: Some(pb::ApiKey {
                display_name: "exported".into(),
                scopes: vec!["tenant:read".into()],
                ..Default::default()
            }),
        })
        .await
        .expect("create a key")
        .into_inner();
    let mut quotas = crate::quota::quotas(&source);
    quotas
        .set_quota_override(pb::SetQuotaOverrideRequest {
            quota_override: Some(pb::QuotaOverride {
                name: format!("{}/quotaOverrides/users", tenant.name),
                limit: 77,
                reason: "exported".to_owned(),
                ..Default::default()
            }),
            force: false,
        })
        .await
        .expect("set a quota override");
    let config = format!("{}/config", tenant.name);
    crate::support::flags::admin(&source.channel)
        .update_config(pb::UpdateConfigRequest {
            config: Some(pb::Config {
                name: config.clone(),
                values: tenantd::rpc::convert::json_object(serde_json::json!({"theme": "dark"})),
                ..Default::default()
            }),
            comment: "exported".to_owned(),
            ..Default::default()
        })
        .await
        .expect("write the tenant's config layer");
    let mut flags = crate::support::flags::admin(&source.channel);
    let flag = crate::support::flags::boolean_flag(Vec::new());
    crate::support::flags::create_flag(&mut flags, "exported-flag", flag).await;
    flags
        .set_flag_override(pb::SetFlagOverrideRequest {
            flag_override: Some(pb::FlagOverride {
                name: format!("{}/flagOverrides/exported-flag", tenant.name),
                enabled: Some(false),
                description: "exported".to_owned(),
                ..Default::default()
            }),
        })
        .await
        .expect("set a flag override");

    let chunks = export(&mut client, &tenant.name).await;
    let listed = manifest(&chunks);
    assert_eq!(listed.isolation, "POOL");
    assert!(
        listed
            .sections
            .iter()
            .all(|s| s.name.starts_with("control/")),
        "{:?}",
        listed.sections
    );

    let target = TestServer::start(Backend::Postgres).await;
    let mut target_client = target.tenants();
    let imported = import(&mut target_client, chunks, "", "")
        .await
        .expect("import under the same id");
    assert_eq!(imported.id, tenant.id);
    assert_eq!(imported.slug, tenant.slug);
    assert_eq!(imported.display_name, "Pool Export");
    assert_eq!(imported.labels, tenant.labels);
    assert_eq!(imported.plan, tenant.plan);
    assert_eq!(imported.isolation(), pb::IsolationModel::Pool);
    // The key's hash came along: its secret works against the new server.
    let mut as_key = target.tenants_as(Credentials::bearer(&key.secret));
    let seen = as_key
        .get_tenant(name_request(&tenant.name))
        .await
        .expect("the imported key authenticates")
        .into_inner();
    assert_eq!(seen.id, tenant.id);
    let overrides = crate::quota::quotas(&target)
        .list_quota_overrides(pb::ListQuotaOverridesRequest {
            parent: tenant.name.clone(),
            ..Default::default()
        })
        .await
        .expect("list overrides")
        .into_inner()
        .quota_overrides;
    assert_eq!(overrides.len(), 1);
    assert_eq!(
        (overrides[0].limit, overrides[0].reason.as_str()),
        (77, "exported")
    );
    let versions = |server: &TestServer| {
        let parent = config.clone();
        let mut client = crate::support::flags::admin(&server.channel);
        async move {
            client
                .list_config_versions(pb::ListConfigVersionsRequest {
                    parent,
                    ..Default::default()
                })
                .await
                .expect("list config versions")
                .into_inner()
                .config_versions
        }
    };
    assert_eq!(versions(&target).await, versions(&source).await);
    let flag_overrides = crate::support::flags::admin(&target.channel)
        .list_flag_overrides(pb::ListFlagOverridesRequest {
            parent: tenant.name.clone(),
            ..Default::default()
        })
        .await
        .expect("list flag overrides")
        .into_inner()
        .flag_overrides;
    assert_eq!(
        flag_overrides.len(),
        1,
        "the tenant's flag override came along"
    );
    assert_eq!(
        (flag_overrides[0].flag.as_str(), flag_overrides[0].enabled),
        ("exported-flag", Some(false))
    );
    // Importing it again collides with itself.
    let again = import(
        &mut target_client,
        export(&mut client, &tenant.name).await,
        "",
        "",
    )
    .await
    .expect_err("the tenant exists");
    assert_eq!(again.code(), Code::AlreadyExists);

    source.stop().await;
    target.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_refuses_exports_with_a_reason() {
    let server = TestServer::start(Backend::Sqlite).await;
    let mut client = server.tenants();
    let tenant = crate::support::fixtures::create(&mut client, "sqlite-export").await;
    let status = client
        .export_tenant(pb::ExportTenantRequest { name: tenant.name })
        .await
        .expect_err("SQLite has no exports");
    crate::support::status::assert_error(&status, Code::FailedPrecondition, "EXPORT_UNSUPPORTED");
    server.stop().await;
}
