//! ConfigService over real gRPC: layers merge DEFAULTS ← PLAN ← TENANT with
//! the source of every top-level key, the schema refuses bad values by
//! their JSON pointer, etags guard changes, versions are listed newest
//! first and rollbacks add a version, and tenant keys reach only their
//! own tenant's configuration, within their scopes.

use serde_json::{Value, json};
use tenantd::pb;
use tonic::Code;

use crate::support::fixtures::{create, mask};
pub use crate::support::flags::Configs;
use crate::support::server::ADMIN_TOKEN;
use crate::support::status::{assert_error, invalid_fields};
use crate::support::{Backend, TestServer};

/// A ConfigService client of `server` with `secret` as bearer.
pub fn client(server: &TestServer, secret: &str) -> Configs {
    crate::support::flags::configs(&server.channel, secret)
}

pub fn values(document: Value) -> prost_types::Struct {
    tenantd::rpc::convert::json_object(document).expect("an object")
}

pub fn json_of(config: &pb::Config) -> Value {
    let object = config.values.as_ref().expect("values");
    let map = tenantd::config::grpc::convert::object_of(object, "values").expect("valid");
    Value::Object(map)
}

pub async fn update(
    client: &mut Configs,
    name: &str,
    document: Value,
    paths: &[&str],
    etag: &str,
) -> Result<pb::Config, tonic::Status> {
    client
        .update_config(pb::UpdateConfigRequest {
            config: Some(pb::Config {
                name: name.to_owned(),
                values: Some(values(document)),
                etag: etag.to_owned(),
                ..Default::default()
            }),
            update_mask: mask(paths),
            comment: "test change".to_owned(),
            validate_only: false,
        })
        .await
        .map(tonic::Response::into_inner)
}

pub async fn get(client: &mut Configs, name: &str, view: pb::ConfigView) -> pb::Config {
    client
        .get_config(pb::GetConfigRequest {
            name: name.to_owned(),
            view: view.into(),
        })
        .await
        .expect("get config")
        .into_inner()
}

async fn key_with(server: &TestServer, tenant: &str, scopes: &[&str]) -> String {
    server
        .tenants()
        .create_api_key(pb::CreateApiKeyRequest {
            parent: tenant.to_owned(),
            api_key: Some(pb::ApiKey {
                display_name: "config test".into(),
                scopes: scopes.iter().map(|scope| (*scope).to_owned()).collect(),
                ..Default::default()
            }),
        })
        .await
        .expect("create API key")
        .into_inner()
        .secret
}

async fn layers_merge_with_the_source_of_each_key(backend: Backend) {
    let server = TestServer::start(backend).await;
    let tenant = create(&mut server.tenants(), "cfg-layers").await;
    let mut admin = client(&server, ADMIN_TOKEN);
    let defaults = json!({"a": 1, "b": {"x": 1, "y": 1}, "c": "default", "gone": true});
    update(&mut admin, "defaults/config", defaults, &[], "")
        .await
        .expect("defaults");
    let plan_layer = format!("plans/{}/config", tenant.plan);
    update(
        &mut admin,
        &plan_layer,
        json!({"b": {"y": 2}, "c": "plan"}),
        &[],
        "",
    )
    .await
    .expect("plan layer");
    let name = format!("{}/config", tenant.name);
    let own = json!({"c": "tenant", "gone": null, "e": [1, 2]});
    let written = update(&mut admin, &name, own.clone(), &[], "")
        .await
        .expect("tenant layer");
    assert_eq!(written.version, 1);
    let effective = get(&mut admin, &name, pb::ConfigView::Unspecified).await;
    assert_eq!(
        json_of(&effective),
        json!({"a": 1, "b": {"x": 1, "y": 2}, "c": "tenant", "e": [1, 2]})
    );
    let layer = |key: &str| effective.key_layers.get(key).copied();
    assert_eq!(layer("a"), Some(pb::ConfigLayer::Defaults.into()));
    assert_eq!(layer("b"), Some(pb::ConfigLayer::Plan.into()));
    assert_eq!(layer("c"), Some(pb::ConfigLayer::Tenant.into()));
    assert_eq!(layer("e"), Some(pb::ConfigLayer::Tenant.into()));
    assert_eq!(layer("gone"), None);
    let versions: Vec<i64> = effective.layers.iter().map(|l| l.version).collect();
    assert_eq!(versions, [1, 1, 1]);
    assert_eq!(effective.author, "admin:test-admin");
    assert_eq!(effective.etag, written.etag);
    let alone = get(&mut admin, &name, pb::ConfigView::Layer).await;
    assert_eq!(json_of(&alone), own);
    // A change of a less specific layer leaves the tenant layer's etag.
    update(
        &mut admin,
        "defaults/config",
        json!({"a": 2}),
        &["values.a"],
        "",
    )
    .await
    .expect("defaults patch");
    let after = get(&mut admin, &name, pb::ConfigView::Effective).await;
    assert_eq!(after.etag, written.etag);
    assert_eq!(json_of(&after)["a"], json!(2));
    server.stop().await;
}

async fn schema_violations_name_json_pointers(backend: Backend) {
    let server = TestServer::start(backend).await;
    let tenant = create(&mut server.tenants(), "cfg-schema").await;
    let mut admin = client(&server, ADMIN_TOKEN);
    let name = format!("{}/config", tenant.name);
    let bad = json!({"branding": {"primary_color": "red", "logo_uri": "http://x.example/l.png"}});
    let status = update(&mut admin, &name, bad, &[], "").await.unwrap_err();
    let mut fields = invalid_fields(&status);
    fields.sort();
    assert_eq!(fields, ["/branding/logo_uri", "/branding/primary_color"]);
    let mut deep = json!(1);
    // One level past the limit; much deeper requests fail in prost's decoder.
    for _ in 0..33 {
        deep = json!({ "k": deep });
    }
    let status = update(&mut admin, &name, deep, &[], "").await.unwrap_err();
    assert_eq!(invalid_fields(&status), ["config.values"]);
    // Nothing was written.
    let current = get(&mut admin, &name, pb::ConfigView::Layer).await;
    assert_eq!(current.version, 0);
    // A plan layer that breaks the schema is refused too.
    let plan_layer = format!("plans/{}/config", tenant.plan);
    let status = update(
        &mut admin,
        &plan_layer,
        json!({"branding": {"accent_color": "#12"}}),
        &[],
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(invalid_fields(&status), ["/branding/accent_color"]);
    server.stop().await;
}

async fn versions_etags_and_rollback(backend: Backend) {
    let server = TestServer::start(backend).await;
    let tenant = create(&mut server.tenants(), "cfg-versions").await;
    let mut admin = client(&server, ADMIN_TOKEN);
    let name = format!("{}/config", tenant.name);
    let first = update(&mut admin, &name, json!({"n": 1, "keep": "x"}), &[], "")
        .await
        .expect("v1");
    let second = update(
        &mut admin,
        &name,
        json!({"n": 2}),
        &["values.n"],
        &first.etag,
    )
    .await
    .expect("v2");
    assert_eq!(
        json_of(&get(&mut admin, &name, pb::ConfigView::Layer).await),
        json!({"n": 2, "keep": "x"})
    );
    let stale = update(&mut admin, &name, json!({"n": 9}), &[], &first.etag)
        .await
        .unwrap_err();
    assert_error(&stale, Code::Aborted, "ETAG_MISMATCH");
    update(
        &mut admin,
        &name,
        json!({"n": 3}),
        &["values.n", "values.keep"],
        &second.etag,
    )
    .await
    .expect("v3");

    let page = |token: String| pb::ListConfigVersionsRequest {
        parent: name.clone(),
        page_size: 2,
        page_token: token,
    };
    let one = admin
        .list_config_versions(page(String::new()))
        .await
        .expect("page 1")
        .into_inner();
    let numbers: Vec<i64> = one.config_versions.iter().map(|v| v.version).collect();
    assert_eq!(numbers, [3, 2]);
    let two = admin
        .list_config_versions(page(one.next_page_token))
        .await
        .expect("page 2")
        .into_inner();
    let numbers: Vec<i64> = two.config_versions.iter().map(|v| v.version).collect();
    assert_eq!(numbers, [1]);
    assert!(two.next_page_token.is_empty());

    let rolled = admin
        .rollback_config(pb::RollbackConfigRequest {
            name: name.clone(),
            version: 1,
            etag: String::new(),
            comment: "back to the start".into(),
        })
        .await
        .expect("rollback")
        .into_inner();
    assert_eq!(rolled.version, 4);
    let restored = admin
        .get_config_version(pb::GetConfigVersionRequest {
            name: format!("{name}/versions/4"),
        })
        .await
        .expect("version 4")
        .into_inner();
    assert_eq!(restored.restored_version, 1);
    assert_eq!(restored.comment, "back to the start");
    assert_eq!(restored.values, first_values(&mut admin, &name).await);
    let missing = admin
        .get_config_version(pb::GetConfigVersionRequest {
            name: format!("{name}/versions/9"),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    server.stop().await;
}

async fn first_values(admin: &mut Configs, name: &str) -> Option<prost_types::Struct> {
    admin
        .get_config_version(pb::GetConfigVersionRequest {
            name: format!("{name}/versions/1"),
        })
        .await
        .expect("version 1")
        .into_inner()
        .values
}

async fn tenant_keys_need_scopes_and_their_own_tenant(backend: Backend) {
    let server = TestServer::start(backend).await;
    let acme = create(&mut server.tenants(), "cfg-acme").await;
    let globex = create(&mut server.tenants(), "cfg-globex").await;
    let name = format!("{}/config", acme.name);
    let mut reader = client(
        &server,
        &key_with(&server, &acme.name, &["config:read"]).await,
    );
    let mut writer = client(
        &server,
        &key_with(&server, &acme.name, &["config:write"]).await,
    );
    let written = update(&mut writer, &name, json!({"feature": "on"}), &[], "")
        .await
        .expect("a config:write key writes");
    assert!(written.author.starts_with("key:"), "{}", written.author);
    let read = get(&mut reader, &name, pb::ConfigView::Effective).await;
    assert_eq!(json_of(&read), json!({"feature": "on"}));
    let refused = update(&mut reader, &name, json!({"feature": "off"}), &[], "")
        .await
        .unwrap_err();
    assert_error(&refused, Code::PermissionDenied, "SCOPE_MISSING");
    let other = reader
        .get_config(pb::GetConfigRequest {
            name: format!("{}/config", globex.name),
            view: 0,
        })
        .await
        .unwrap_err();
    assert_error(&other, Code::PermissionDenied, "TENANT_MISMATCH");
    let defaults = reader
        .get_config(pb::GetConfigRequest {
            name: "defaults/config".into(),
            view: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(defaults.code(), Code::PermissionDenied);
    server.stop().await;
}

async fn branding_is_a_typed_view_of_the_config(backend: Backend) {
    let server = TestServer::start(backend).await;
    let tenant = create(&mut server.tenants(), "cfg-brand").await;
    let mut admin = client(&server, ADMIN_TOKEN);
    let plan_layer = format!("plans/{}/config", tenant.plan);
    update(
        &mut admin,
        &plan_layer,
        json!({"branding": {"accent_color": "#000000"}}),
        &[],
        "",
    )
    .await
    .expect("plan branding");
    let name = format!("{}/branding", tenant.name);
    let branding = admin
        .update_branding(pb::UpdateBrandingRequest {
            branding: Some(pb::Branding {
                name: name.clone(),
                primary_color: "#112233".into(),
                logo_uri: "https://cdn.example.com/logo.png".into(),
                ..Default::default()
            }),
            update_mask: None,
            comment: String::new(),
        })
        .await
        .expect("update branding")
        .into_inner();
    assert_eq!(branding.primary_color, "#112233");
    assert_eq!(branding.accent_color, "#000000");
    assert_eq!(branding.config_version, 1);
    assert_eq!(
        branding.field_layers.get("accent_color").copied(),
        Some(pb::ConfigLayer::Plan.into())
    );
    let bad = admin
        .update_branding(pb::UpdateBrandingRequest {
            branding: Some(pb::Branding {
                name: name.clone(),
                logo_uri: "ftp://cdn.example.com/logo.png".into(),
                ..Default::default()
            }),
            update_mask: mask(&["logo_uri"]),
            comment: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&bad), ["/branding/logo_uri"]);
    let cleared = admin
        .update_branding(pb::UpdateBrandingRequest {
            branding: Some(pb::Branding {
                name: name.clone(),
                etag: branding.etag.clone(),
                ..Default::default()
            }),
            update_mask: mask(&["primary_color"]),
            comment: String::new(),
        })
        .await
        .expect("clear a field")
        .into_inner();
    assert_eq!(cleared.primary_color, "");
    assert_eq!(cleared.logo_uri, "https://cdn.example.com/logo.png");
    let read = admin
        .get_branding(pb::GetBrandingRequest { name })
        .await
        .expect("get branding")
        .into_inner();
    assert_eq!(read, cleared);
    server.stop().await;
}

crate::backend_tests!(
    layers_merge_with_the_source_of_each_key,
    schema_violations_name_json_pointers,
    versions_etags_and_rollback,
    tenant_keys_need_scopes_and_their_own_tenant,
    branding_is_a_typed_view_of_the_config,
);
