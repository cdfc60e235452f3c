//! Rotating an API key: the old secret keeps working for the overlap asked
//! for, and never past an expiry it had.

use tenantd::pb;
use tonic::Code;

use super::{issue, list, new_key, overlap, seconds_from_now};
use crate::support::fixtures::create;
use crate::support::status::{assert_error, invalid_fields};
use crate::support::{Backend, TestServer};

async fn rotation_overlaps_the_old_key(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = server.tenants();
    let acme = create(&mut client, "acme").await;
    let created = issue(&mut client, &acme.name).await;
    let old = created.api_key.unwrap();

    let before = chrono::Utc::now().timestamp();
    let rotated = client
        .rotate_api_key(pb::RotateApiKeyRequest {
            name: old.name.clone(),
            overlap: overlap(3600),
        })
        .await
        .unwrap()
        .into_inner();
    let after = chrono::Utc::now().timestamp();
    let new = rotated.api_key.unwrap();
    let previous = rotated.previous.unwrap();
    assert_ne!(rotated.secret, created.secret);
    assert!(rotated.secret.starts_with(&format!("{}_", new.prefix)));
    assert_ne!(new.key_id, old.key_id);
    assert_eq!(
        (new.scopes.clone(), new.display_name.clone()),
        (old.scopes.clone(), old.display_name.clone())
    );
    assert_eq!(new.rotated_from, old.name);
    assert_eq!(new.state(), pb::ApiKeyState::Active);
    assert_eq!(
        previous.state(),
        pb::ApiKeyState::Active,
        "the old key lives through the overlap"
    );
    let old_expiry = previous
        .expire_time
        .expect("the old key now expires")
        .seconds;
    assert!(
        (before + 3600..=after + 3600).contains(&old_expiry),
        "{old_expiry}"
    );
    assert_eq!(
        list(&mut client, &acme.name, false).await,
        [previous.clone(), new.clone()]
    );

    // A shorter overlap wins over a longer one later; a longer never extends.
    let shortened = client
        .rotate_api_key(pb::RotateApiKeyRequest {
            name: old.name.clone(),
            overlap: overlap(86_400),
        })
        .await
        .unwrap()
        .into_inner()
        .previous
        .unwrap();
    assert_eq!(shortened.expire_time, previous.expire_time);

    let ended = client
        .rotate_api_key(pb::RotateApiKeyRequest {
            name: new.name.clone(),
            overlap: overlap(0),
        })
        .await
        .unwrap()
        .into_inner()
        .previous
        .unwrap();
    assert_eq!(ended.state(), pb::ApiKeyState::Expired);
    let expired = client
        .rotate_api_key(pb::RotateApiKeyRequest {
            name: new.name.clone(),
            overlap: overlap(0),
        })
        .await
        .unwrap_err();
    assert_error(&expired, Code::FailedPrecondition, "API_KEY_EXPIRED");

    for bad in [None, overlap(-1), overlap(31 * 86_400)] {
        let status = client
            .rotate_api_key(pb::RotateApiKeyRequest {
                name: old.name.clone(),
                overlap: bad,
            })
            .await
            .unwrap_err();
        assert_eq!(invalid_fields(&status), ["overlap"], "for {bad:?}");
    }
    server.stop().await;
}

async fn rotation_keeps_an_earlier_expiry(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = server.tenants();
    let acme = create(&mut client, "acme").await;
    let mut request = new_key(&acme.name, &["config:read"]);
    let expiry = seconds_from_now(7200);
    request.api_key.as_mut().unwrap().expire_time = Some(expiry);
    let old = client
        .create_api_key(request)
        .await
        .unwrap()
        .into_inner()
        .api_key
        .unwrap();
    assert_eq!(old.expire_time, Some(expiry));

    let rotated = client
        .rotate_api_key(pb::RotateApiKeyRequest {
            name: old.name.clone(),
            overlap: overlap(86_400),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rotated.previous.unwrap().expire_time, Some(expiry));
    assert_eq!(
        rotated.api_key.unwrap().expire_time,
        Some(expiry),
        "the new key has the old lifetime"
    );
    server.stop().await;
}

crate::backend_tests!(
    rotation_overlaps_the_old_key,
    rotation_keeps_an_earlier_expiry,
);
