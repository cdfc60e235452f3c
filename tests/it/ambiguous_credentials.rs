//! Ambiguous credentials are refused, never resolved by order: two values
//! of `authorization` answer UNAUTHENTICATED, two of `x-tenant-id` or
//! `x-tenant-slug` INVALID_ARGUMENT naming the header, whichever value
//! comes first.

use tenantd::pb;
use tonic::Code;
use tonic::metadata::MetadataValue;

use crate::context::issue_key;
use crate::support::fixtures::{create, name_request};
use crate::support::server::{ADMIN_TOKEN, Credentials};
use crate::support::status::{assert_error, invalid_fields};
use crate::support::{Backend, TestServer};

/// A GetTenant of `name` carrying every `(key, value)` in order, appended.
fn request(name: &str, metadata: &[(&'static str, &str)]) -> tonic::Request<pb::GetTenantRequest> {
    let mut request = tonic::Request::new(name_request(name));
    for (key, value) in metadata {
        let value: MetadataValue<_> = value.parse().expect("ascii metadata");
        request.metadata_mut().append(*key, value);
    }
    request
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_credentials_are_refused() {
    let server = TestServer::start(Backend::Sqlite).await;
    let mut operator = server.tenants();
    let acme = create(&mut operator, "acme").await;
    let globex = create(&mut operator, "globex").await;
    let (acme_key, _) = issue_key(&mut operator, &acme.name, &["tenant:read"]).await;
    let mut anonymous = server.tenants_as(Credentials::none());
    let admin = bearer(ADMIN_TOKEN);
    let key = bearer(&acme_key);

    for pair in [[&admin, &key], [&key, &admin], [&admin, &admin]] {
        let metadata = [
            ("authorization", pair[0].as_str()),
            ("authorization", pair[1].as_str()),
        ];
        let refused = anonymous
            .get_tenant(request(&acme.name, &metadata))
            .await
            .expect_err("two authorization values are refused");
        assert_error(&refused, Code::Unauthenticated, "CREDENTIALS_AMBIGUOUS");
    }

    for header in ["x-tenant-id", "x-tenant-slug"] {
        let (first, second) = if header == "x-tenant-id" {
            (acme.id.as_str(), globex.id.as_str())
        } else {
            ("acme", "globex")
        };
        for caller in [&admin, &key] {
            let metadata = [
                ("authorization", caller.as_str()),
                (header, first),
                (header, second),
            ];
            let refused = anonymous
                .get_tenant(request(&acme.name, &metadata))
                .await
                .expect_err("two tenant headers are refused");
            assert_eq!(invalid_fields(&refused), [header], "{header} twice");
            let same = [
                ("authorization", caller.as_str()),
                (header, first),
                (header, first),
            ];
            let refused = anonymous
                .get_tenant(request(&acme.name, &same))
                .await
                .expect_err("even the same value twice is refused");
            assert_eq!(invalid_fields(&refused), [header]);
        }
        // One value of each is served as before.
        let single = [("authorization", key.as_str()), (header, first)];
        let served = anonymous
            .get_tenant(request(&acme.name, &single))
            .await
            .expect("one value of each is served")
            .into_inner();
        assert_eq!(served.name, acme.name);
    }
    server.stop().await;
}
