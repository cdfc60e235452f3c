//! A cheaper `tenant_batch` policy on `usage_events` (m0009).
//!
//! m0009's policy compared each row with
//! `ANY ((SELECT string_to_array(…))::uuid[])`: the sub-select ran once per
//! statement, but the cast of its text array to `uuid[]` sat outside it and
//! ran for every row, parsing every listed tenant id again per row. A batch
//! of 500 events over 500 tenants parsed 250,000 ids per check (twice with
//! `RETURNING`), which made PostgreSQL's CPU the bottleneck of ingestion:
//! about 18 such INSERTs a second against about 110 without the policy.
//!
//! The policy now tests membership in an uncorrelated sub-select of the
//! parsed ids, which PostgreSQL evaluates once per statement into a hash
//! table (a hashed SubPlan), so each row costs one lookup. What it admits is
//! unchanged: rows of the tenants listed in `tenantd.tenant_ids`, none when
//! the setting is unset or empty.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tenants a batch transaction lists, as a set to look rows up in.
const LISTED: &str = "tenant_id IN (SELECT unnest(string_to_array(\
    NULLIF(current_setting('tenantd.tenant_ids', true), ''), ','))::uuid)";

/// m0009's form, restored by `down`.
const M0009: &str = "tenant_id = ANY ((SELECT string_to_array(\
    NULLIF(current_setting('tenantd.tenant_ids', true), ''), ','))::uuid[])";

async fn replace_policy(manager: &SchemaManager<'_>, condition: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let connection = manager.get_connection();
    for statement in [
        "DROP POLICY tenant_batch ON usage_events".to_owned(),
        format!(
            "CREATE POLICY tenant_batch ON usage_events \
             USING ({condition}) WITH CHECK ({condition})"
        ),
    ] {
        connection.execute_unprepared(&statement).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        replace_policy(manager, LISTED).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        replace_policy(manager, M0009).await
    }
}
