//! Small builders shared by the test files.

use prost_types::FieldMask;
use tenantd::pb;

pub use super::server::Client;

/// A tenant message with only its slug set.
pub fn tenant(slug: &str) -> pb::Tenant {
    pb::Tenant {
        slug: slug.to_owned(),
        ..Default::default()
    }
}

/// Creates a tenant with `slug` and defaults, failing the test otherwise.
pub async fn create(client: &mut Client, slug: &str) -> pb::Tenant {
    client
        .create_tenant(pb::CreateTenantRequest {
            tenant: Some(tenant(slug)),
            ..Default::default()
        })
        .await
        .expect("create tenant")
        .into_inner()
}

/// A GetTenant request for `name`.
pub fn name_request(name: &str) -> pb::GetTenantRequest {
    pb::GetTenantRequest {
        name: name.to_owned(),
    }
}

/// A field mask of `paths`.
pub fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|path| (*path).to_owned()).collect(),
    })
}

/// Adds `hostname` to the tenant `parent`, failing the test otherwise.
pub async fn create_domain(client: &mut Client, parent: &str, hostname: &str) -> pb::Domain {
    client
        .create_domain(pb::CreateDomainRequest {
            parent: parent.to_owned(),
            domain: Some(pb::Domain {
                hostname: hostname.to_owned(),
                ..Default::default()
            }),
        })
        .await
        .expect("create domain")
        .into_inner()
}
