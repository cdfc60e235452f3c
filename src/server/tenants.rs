//! Setting up the tenant directory with SCHEMA provisioning, for the server
//! and for the `tenantd tenants` operator commands alike.

use std::sync::Arc;

use crate::error::Result;
use crate::settings::CommonArgs;
use crate::settings::tenants::load_template;
use crate::store::{PoolOptions, Store};
use crate::tenancy::dns::DnsTxtResolver;
use crate::tenancy::provisioning::Provisioner;
use crate::tenancy::tenants::{TenantSettings, Tenants};

/// SCHEMA tenants one replica provisions at once (two owner connections
/// each); more wait their turn.
pub(crate) const PROVISIONING_CONCURRENCY: u32 = 4;

/// `tenants`, provisioning SCHEMA tenants on PostgreSQL with the template
/// of `template_dir` through the owner's `migration_url`; unchanged on
/// SQLite, which has no schemas. The server and the `tenantd tenants`
/// commands alike.
pub(crate) async fn with_provisioning(
    tenants: Tenants,
    store: &Store,
    migration_url: &str,
    (template_dir, concurrency, fault): (
        Option<&std::path::Path>,
        u32,
        Option<crate::tenancy::provisioning::Step>,
    ),
) -> Result<Tenants> {
    if store.backend() != sea_orm::DbBackend::Postgres {
        return Ok(tenants);
    }
    let template = load_template(template_dir)?;
    let provisioner = Provisioner::connect(migration_url, template, concurrency, fault).await?;
    let missing = provisioner.missing_rights().await?;
    if !missing.is_empty() {
        // Serving goes on: POOL tenants need none of this, and SCHEMA
        // tenants end FAILED with the database's refusal as their reason.
        tracing::warn!(
            missing = %missing.join(", "),
            "the migration database role cannot provision SCHEMA tenants; grant it the missing rights or set --migration-database-url to one that has them"
        );
    }
    Ok(tenants.with_provisioner(provisioner))
}

/// The directory an operator command works with: the database URL for the
/// control plane, the migration URL (the owner's) for schema DDL, for
/// `concurrency` tenants at once.
pub async fn operator_tenants(common: &CommonArgs, concurrency: u32) -> Result<(Store, Tenants)> {
    let store = Store::connect(&common.database_url, &PoolOptions::default()).await?;
    store.ensure_migrated().await?;
    let migration_url = common
        .migration_database_url
        .as_deref()
        .filter(|url| !url.is_empty())
        .unwrap_or(&common.database_url);
    let settings = TenantSettings {
        purge_after: chrono::Duration::days(30),
        base_domain: None,
        domain_claim_ttl: chrono::Duration::days(7),
    };
    let resolver = Arc::new(DnsTxtResolver::new(None)?);
    let tenants = Tenants::new(store.clone(), settings, resolver);
    let template_dir = common.template.tenant_template_dir.as_deref();
    let tenants = with_provisioning(
        tenants,
        &store,
        migration_url,
        (template_dir, concurrency, None),
    )
    .await?;
    Ok((store, tenants))
}
