//! Signed page tokens and contested domain claims.
//!
//! `server_secrets` holds secrets of tenantd itself, one row per name. This
//! migration stores the page-token key there, 32 random bytes as hex,
//! generated here once per database: migrations run under an advisory lock
//! in one transaction on PostgreSQL, so replicas starting together on a new
//! database agree on one key (the later ones find it made). The serving
//! role may only read it.
//!
//! Hostnames stop being unique across every claim: each tenant holds at
//! most one claim per hostname (`ux_tenant_domains_tenant_hostname`), and
//! only one claim per hostname may be VERIFIED
//! (`ux_tenant_domains_verified_hostname`, a partial index, on both
//! backends). So a PENDING claim no longer blocks the tenant that really
//! controls the hostname from asking for its own challenge.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ServerSecrets {
    Table,
    Name,
    Value,
}

/// The group role the server's login role belongs to (see m0003).
const APP_ROLE: &str = "tenantd_app";

/// The page-token key: 32 random bytes in hex.
fn new_key() -> Result<String, DbErr> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|error| DbErr::Custom(error.to_string()))?;
    Ok(key.iter().map(|byte| format!("{byte:02x}")).collect())
}

const CLAIM_INDEXES: [&str; 3] = [
    "DROP INDEX ux_tenant_domains_hostname",
    "CREATE UNIQUE INDEX ux_tenant_domains_tenant_hostname \
     ON tenant_domains (tenant_id, hostname)",
    "CREATE UNIQUE INDEX ux_tenant_domains_verified_hostname \
     ON tenant_domains (hostname) WHERE state = 'VERIFIED'",
];

/// m0001's index, restored by `down` (which fails while two tenants claim
/// one hostname, rather than dropping a claim).
const M0001_INDEXES: [&str; 3] = [
    "DROP INDEX ux_tenant_domains_verified_hostname",
    "DROP INDEX ux_tenant_domains_tenant_hostname",
    "CREATE UNIQUE INDEX ux_tenant_domains_hostname ON tenant_domains (hostname)",
];

async fn execute_all(manager: &SchemaManager<'_>, statements: &[String]) -> Result<(), DbErr> {
    let connection = manager.get_connection();
    for statement in statements {
        connection.execute_unprepared(statement).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ServerSecrets::Table)
                    .col(
                        ColumnDef::new(ServerSecrets::Name)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ServerSecrets::Value).string().not_null())
                    .to_owned(),
            )
            .await?;
        let mut statements = vec![format!(
            "INSERT INTO server_secrets (name, value) VALUES ('page_token_key', '{}')",
            new_key()?
        )];
        if manager.get_database_backend() == DbBackend::Postgres {
            // m0003's default privileges gave the role every right on new
            // tables: a secret is only read.
            statements.push(format!(
                "REVOKE INSERT, UPDATE, DELETE ON server_secrets FROM {APP_ROLE}"
            ));
            statements.push(format!("GRANT SELECT ON server_secrets TO {APP_ROLE}"));
        }
        statements.extend(CLAIM_INDEXES.map(str::to_owned));
        execute_all(manager, &statements).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_all(manager, &M0001_INDEXES.map(str::to_owned)).await?;
        manager
            .drop_table(Table::drop().table(ServerSecrets::Table).to_owned())
            .await
    }
}
