//! Page tokens are opaque and signed: an edited token, and one forged as an
//! attacker would (the readable body re-encoded with a recomputed query
//! fingerprint), are refused as INVALID_ARGUMENT; a real token still pages;
//! replicas on one database, even started together on a new one, honour
//! each other's tokens; a configured key replaces the stored one.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tenantd::common::paging::{PageTokenKey, query_fingerprint};
use tenantd::pb;

use crate::support::db::{TestDatabase, postgres_available};
use crate::support::fixtures::{Client, create};
use crate::support::status::invalid_fields;
use crate::support::{Backend, TestServer};

/// One page of one tenant, after `page_token`.
async fn page(
    client: &mut Client,
    page_token: &str,
) -> Result<pb::ListTenantsResponse, tonic::Status> {
    client
        .list_tenants(pb::ListTenantsRequest {
            page_size: 1,
            page_token: page_token.to_owned(),
            ..Default::default()
        })
        .await
        .map(tonic::Response::into_inner)
}

fn names(response: &pb::ListTenantsResponse) -> Vec<&str> {
    response
        .tenants
        .iter()
        .map(|tenant| tenant.name.as_str())
        .collect()
}

/// The token an attacker makes to skip to after `tenant_id`: the readable
/// body of an unsigned token, with the fingerprint of the unfiltered query.
fn forged_body(tenant_id: &str) -> Vec<u8> {
    let fingerprint = query_fingerprint(&["", "false"]);
    format!(r#"{{"after":"{tenant_id}","query":"{fingerprint}"}}"#).into_bytes()
}

async fn edited_and_forged_tokens_are_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = server.tenants();
    let mut tenants = Vec::new();
    for slug in ["acme", "globex", "initech"] {
        tenants.push(create(&mut client, slug).await);
    }
    let first = page(&mut client, "").await.expect("first page");
    assert_eq!(names(&first), [tenants[0].name.as_str()]);
    let second = page(&mut client, &first.next_page_token)
        .await
        .expect("a real token pages");
    assert_eq!(names(&second), [tenants[1].name.as_str()]);

    let token = URL_SAFE_NO_PAD
        .decode(&first.next_page_token)
        .expect("base64url");
    let mut edited = token.clone();
    let last = edited.len() - 3;
    edited[last] ^= 0x01;
    // The same body behind the real tag, pointing past the second tenant.
    let mut retargeted = token[..token.len().min(32)].to_vec();
    retargeted.extend(forged_body(&tenants[1].id));
    for (what, forged) in [
        ("edited", URL_SAFE_NO_PAD.encode(&edited)),
        (
            "forged",
            URL_SAFE_NO_PAD.encode(forged_body(&tenants[1].id)),
        ),
        ("retargeted", URL_SAFE_NO_PAD.encode(&retargeted)),
        ("truncated", first.next_page_token[..20].to_owned()),
    ] {
        let refused = page(&mut client, &forged)
            .await
            .expect_err("a token the server did not sign is refused");
        assert_eq!(invalid_fields(&refused), ["page_token"], "{what}");
    }
    let again = page(&mut client, &first.next_page_token)
        .await
        .expect("the real token still pages");
    assert_eq!(names(&again), names(&second));
    server.stop().await;
}

async fn two_servers_on_one_postgres_database_accept_each_others_tokens() {
    if !postgres_available().await {
        return;
    }
    // Started together on a new database: both migrate, one makes the key.
    let database = TestDatabase::create(Backend::Postgres).await;
    let (left, right) = tokio::join!(
        TestServer::start_on(&database, |_| {}),
        TestServer::start_on(&database, |_| {}),
    );
    let mut on_left = left.tenants();
    let mut on_right = right.tenants();
    let acme = create(&mut on_left, "acme").await;
    let globex = create(&mut on_right, "globex").await;
    create(&mut on_left, "initech").await;

    let first = page(&mut on_left, "").await.expect("first page");
    assert_eq!(names(&first), [acme.name.as_str()]);
    let second = page(&mut on_right, &first.next_page_token)
        .await
        .expect("the other replica honours the token");
    assert_eq!(names(&second), [globex.name.as_str()]);
    let third = page(&mut on_left, &second.next_page_token)
        .await
        .expect("and back");
    assert_eq!(third.tenants.len(), 1);

    // A replica configured with its own key signs with that key alone.
    let key = PageTokenKey::parse(&"k".repeat(40)).expect("a key");
    let keyed = TestServer::start_on(&database, move |config| {
        config.page_token_key = Some(key);
    })
    .await;
    let mut on_keyed = keyed.tenants();
    let refused = page(&mut on_keyed, &first.next_page_token)
        .await
        .expect_err("a token of another key is refused");
    assert_eq!(invalid_fields(&refused), ["page_token"]);
    let own = page(&mut on_keyed, "").await.expect("first page");
    page(&mut on_keyed, &own.next_page_token)
        .await
        .expect("its own tokens page");
    assert!(page(&mut on_left, &own.next_page_token).await.is_err());

    keyed.stop().await;
    right.stop().await;
    left.stop().await;
    database.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_page_tokens() {
    two_servers_on_one_postgres_database_accept_each_others_tokens().await;
}

crate::backend_tests!(edited_and_forged_tokens_are_refused);
