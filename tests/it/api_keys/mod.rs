//! API keys over real gRPC: the secret is shown once and stored only as a
//! hash, listing never returns it, revocation and rotation with overlap.

mod rotation;

use prost::Message;
use sea_orm::{ConnectionTrait, Database, Statement};
use sha2::{Digest, Sha256};
use tenantd::pb;
use tonic::Code;

use crate::support::fixtures::{Client, create};
use crate::support::status::{assert_error, invalid_fields};
use crate::support::{Backend, TestServer};

fn new_key(parent: &str, scopes: &[&str]) -> pb::CreateApiKeyRequest {
    pb::CreateApiKeyRequest {
        parent: parent.to_owned(),
        api_key: Some(pb::ApiKey {
            display_name: "billing worker".into(),
            scopes: scopes.iter().map(|scope| (*scope).to_owned()).collect(),
            ..Default::default()
        }),
    }
}

async fn issue(client: &mut Client, parent: &str) -> pb::CreateApiKeyResponse {
    client
        .create_api_key(new_key(parent, &["usage:write", "config:read"]))
        .await
        .expect("create API key")
        .into_inner()
}

async fn list(client: &mut Client, parent: &str, show_revoked: bool) -> Vec<pb::ApiKey> {
    client
        .list_api_keys(pb::ListApiKeysRequest {
            parent: parent.to_owned(),
            show_revoked,
            ..Default::default()
        })
        .await
        .expect("list API keys")
        .into_inner()
        .api_keys
}

fn seconds_from_now(seconds: i64) -> prost_types::Timestamp {
    let at = chrono::Utc::now() + chrono::Duration::seconds(seconds);
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: 0,
    }
}

fn overlap(seconds: i64) -> Option<prost_types::Duration> {
    Some(prost_types::Duration { seconds, nanos: 0 })
}

/// Every text value stored in `table`, for looking for leaked secrets.
async fn stored_text(database_url: &str, table: &str) -> String {
    let connection = Database::connect(database_url)
        .await
        .expect("connect to the test database");
    let backend = connection.get_database_backend();
    let rows = connection
        .query_all_raw(Statement::from_string(
            backend,
            format!("SELECT * FROM {table}"),
        ))
        .await
        .expect("read the table");
    let mut text = String::new();
    for row in rows {
        for column in row.column_names() {
            if let Ok(value) = row.try_get::<String>("", &column) {
                text.push_str(&value);
                text.push('\n');
            } else if let Ok(value) = row.try_get::<serde_json::Value>("", &column) {
                text.push_str(&value.to_string());
                text.push('\n');
            }
        }
    }
    let _ = connection.close().await;
    text
}

async fn the_secret_is_shown_once_and_stored_as_a_hash(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = server.tenants();
    let acme = create(&mut client, "acme").await;
    let created = issue(&mut client, &acme.name).await;
    let key = created.api_key.clone().expect("api_key");

    let parts: Vec<&str> = created.secret.splitn(3, '_').collect();
    assert_eq!(parts.len(), 3, "{}", created.secret);
    assert_eq!(format!("{}_{}", parts[0], parts[1]), key.prefix);
    assert!(key.prefix.starts_with("tdk_"));
    let secret = parts[2];
    assert_eq!(secret.len(), 64, "256 bits in hex");
    assert!(secret.bytes().all(|byte| byte.is_ascii_hexdigit()));
    assert_eq!(key.name, format!("{}/apiKeys/{}", acme.name, key.key_id));
    assert_eq!(key.scopes, ["config:read", "usage:write"]);
    assert_eq!(key.display_name, "billing worker");
    assert_eq!(key.state(), pb::ApiKeyState::Active);
    assert!(key.create_time.is_some() && key.expire_time.is_none() && key.revoke_time.is_none());
    assert_ne!(issue(&mut client, &acme.name).await.secret, created.secret);

    let listed = client
        .list_api_keys(pb::ListApiKeysRequest {
            parent: "tenants/slug:acme".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.api_keys[0], key);
    assert!(
        !String::from_utf8_lossy(&listed.encode_to_vec()).contains(secret),
        "a listing never carries a secret"
    );

    let stored = stored_text(&server.database_url, "api_keys").await;
    let hash: String = Sha256::digest(created.secret.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    assert!(
        stored.contains(&hash),
        "the hash of the whole key is stored"
    );
    assert!(!stored.contains(secret), "the secret itself is not stored");
    let audit = stored_text(&server.database_url, "audit_events").await;
    assert!(audit.contains("CreateApiKey"));
    assert!(
        !audit.contains(secret) && !audit.contains(&hash),
        "the audit trail keeps neither"
    );
    server.stop().await;
}

async fn bad_requests_create_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = server.tenants();
    let acme = create(&mut client, "acme").await;
    let caller = client.clone();
    let refused = |request: pb::CreateApiKeyRequest| {
        let mut client = caller.clone();
        async move { client.create_api_key(request).await.unwrap_err() }
    };

    let no_scopes = refused(new_key(&acme.name, &[])).await;
    assert_eq!(invalid_fields(&no_scopes), ["api_key.scopes"]);
    let unknown_scope = refused(new_key(&acme.name, &["config:read", "root"])).await;
    assert_eq!(invalid_fields(&unknown_scope), ["api_key.scopes"]);
    let mut past = new_key(&acme.name, &["config:read"]);
    past.api_key.as_mut().unwrap().expire_time = Some(seconds_from_now(-60));
    assert_eq!(
        invalid_fields(&refused(past).await),
        ["api_key.expire_time"]
    );
    let mut several = new_key(&acme.name, &[]);
    several.api_key.as_mut().unwrap().display_name = "x".repeat(201);
    several.api_key.as_mut().unwrap().expire_time = Some(prost_types::Timestamp {
        seconds: 0,
        nanos: -1,
    });
    assert_eq!(
        invalid_fields(&refused(several).await),
        [
            "api_key.display_name",
            "api_key.scopes",
            "api_key.expire_time"
        ],
        "every bad field is named at once"
    );
    let missing = refused(pb::CreateApiKeyRequest {
        parent: acme.name.clone(),
        api_key: None,
    })
    .await;
    assert_eq!(invalid_fields(&missing), ["api_key"]);
    assert_eq!(
        invalid_fields(&refused(new_key("acme", &["config:read"])).await),
        ["parent"]
    );
    let unknown = refused(new_key("tenants/slug:nobody", &["config:read"])).await;
    assert_error(&unknown, Code::NotFound, "TENANT_NOT_FOUND");
    assert!(list(&mut client, &acme.name, true).await.is_empty());

    client
        .delete_tenant(pb::DeleteTenantRequest {
            name: acme.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let deleted = refused(new_key(&acme.name, &["config:read"])).await;
    assert_error(&deleted, Code::FailedPrecondition, "TENANT_DELETED");
    server.stop().await;
}

async fn revoked_keys_stay_revoked(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = server.tenants();
    let acme = create(&mut client, "acme").await;
    let globex = create(&mut client, "globex").await;
    let key = issue(&mut client, &acme.name).await.api_key.unwrap();
    let kept = issue(&mut client, &acme.name).await.api_key.unwrap();

    let revoke = pb::RevokeApiKeyRequest {
        name: key.name.clone(),
    };
    let revoked = client
        .revoke_api_key(revoke.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(revoked.state(), pb::ApiKeyState::Revoked);
    assert!(revoked.revoke_time.is_some());
    let again = client.revoke_api_key(revoke).await.unwrap().into_inner();
    assert_eq!(again, revoked, "revoking twice changes nothing");

    assert_eq!(
        list(&mut client, &acme.name, false).await,
        std::slice::from_ref(&kept)
    );
    assert_eq!(
        list(&mut client, &acme.name, true).await,
        [revoked.clone(), kept]
    );

    let rotate = client
        .rotate_api_key(pb::RotateApiKeyRequest {
            name: key.name.clone(),
            overlap: overlap(60),
        })
        .await
        .unwrap_err();
    assert_error(&rotate, Code::FailedPrecondition, "API_KEY_REVOKED");

    let through_other_tenant = client
        .revoke_api_key(pb::RevokeApiKeyRequest {
            name: format!("{}/apiKeys/{}", globex.name, key.key_id),
        })
        .await
        .unwrap_err();
    assert_error(&through_other_tenant, Code::NotFound, "API_KEY_NOT_FOUND");
    let malformed = client
        .revoke_api_key(pb::RevokeApiKeyRequest {
            name: format!("{}/apiKeys/not-a-key", acme.name),
        })
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&malformed), ["name"]);
    server.stop().await;
}

async fn keys_page_oldest_first(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = server.tenants();
    let acme = create(&mut client, "acme").await;
    let mut expected = Vec::new();
    for _ in 0..7 {
        expected.push(issue(&mut client, &acme.name).await.api_key.unwrap().key_id);
    }
    let mut seen = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_api_keys(pb::ListApiKeysRequest {
                parent: acme.name.clone(),
                page_size: 3,
                page_token: page_token.clone(),
                show_revoked: false,
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.api_keys.len() <= 3);
        seen.extend(page.api_keys.into_iter().map(|key| key.key_id));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(seen, expected);
    server.stop().await;
}

crate::backend_tests!(
    the_secret_is_shown_once_and_stored_as_a_hash,
    bad_requests_create_nothing,
    revoked_keys_stay_revoked,
    keys_page_oldest_first,
);
