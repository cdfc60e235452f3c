//! Setting up the tenant directory with SCHEMA provisioning, for the server
//! and for the `tenantd tenants` operator commands alike.

use crate::error::Result;
use crate::settings::tenants::load_template;
use crate::store::Store;
use crate::tenancy::provisioning::Provisioner;
use crate::tenancy::tenants::Tenants;

/// SCHEMA tenants one replica provisions at once (two owner connections
/// each); more wait their turn.
pub(crate) const PROVISIONING_CONCURRENCY: u32 = 4;

/// `tenants`, provisioning SCHEMA tenants on PostgreSQL with the template
/// of `template_dir` through the owner's `migration_url`; unchanged on
/// SQLite, which has no schemas. The server and the `tenantd tenants`
/// commands alike.
pub async fn with_provisioning(
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
