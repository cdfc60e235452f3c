//! Which control-plane migrations a database has applied, beside the ones
//! this build carries.
//!
//! Migrations are written expand-then-contract: a migration only adds what
//! the previous release can ignore, and what a release stops using is
//! dropped a release later. So a database migrated by a newer release
//! still serves this one: during a rolling upgrade an old pod that
//! restarts after the new release migrated, and after a rollback across a
//! migration, start and serve. What cannot serve is a database that lacks
//! one of this build's own migrations.

use sea_orm::{ConnectionTrait, Statement};
use tenantd_migration::{IntoSchemaManagerConnection, Migrator, MigratorTrait, SchemaManager};

use crate::error::{Error, Result};

/// The table sea-orm records applied migrations in.
const TABLE: &str = "seaql_migrations";

/// A database's migrations compared with this build's.
#[derive(Debug, Default)]
pub struct SchemaState {
    /// This build's migrations the database has not applied, in order.
    pub pending: Vec<String>,
    /// Migrations the database has applied that this build does not know:
    /// a newer release's.
    pub newer: Vec<String>,
}

impl SchemaState {
    /// Reads the applied migrations; creates nothing, so a role without DDL
    /// rights can ask.
    pub async fn read<'c>(db: impl IntoSchemaManagerConnection<'c>) -> Result<Self> {
        let known: Vec<String> = Migrator::migrations()
            .iter()
            .map(|migration| migration.name().to_owned())
            .collect();
        let applied = applied(&SchemaManager::new(db)).await?;
        Ok(Self {
            pending: known
                .iter()
                .filter(|name| !applied.contains(name))
                .cloned()
                .collect(),
            newer: applied
                .into_iter()
                .filter(|name| !known.contains(name))
                .collect(),
        })
    }

    /// Logs a newer schema once: this build serves it, as migrations are
    /// expand-then-contract.
    pub fn note_newer(&self) {
        if !self.newer.is_empty() {
            tracing::warn!(
                newer = %self.newer.join(", "),
                "the database carries migrations of a newer tenantd; serving, as migrations only expand what an older release reads"
            );
        }
    }

    /// Refuses a database that lacks one of this build's migrations while
    /// carrying a newer release's: applying an older migration after newer
    /// ones could undo what they did, so nothing is applied.
    pub fn refuse_out_of_order(&self) -> Result<()> {
        if self.pending.is_empty() || self.newer.is_empty() {
            return Ok(());
        }
        Err(Error::failed_precondition(
            "MIGRATIONS_OUT_OF_ORDER",
            "DATABASE_SCHEMA",
            "control-plane database",
            format!(
                "the database carries the newer migrations {} but lacks {}; migrate it with the release that wrote them",
                self.newer.join(", "),
                self.pending.join(", ")
            ),
        ))
    }
}

/// The versions recorded as applied; none when nothing was ever migrated.
async fn applied(manager: &SchemaManager<'_>) -> Result<Vec<String>> {
    if !manager.has_table(TABLE).await? {
        return Ok(Vec::new());
    }
    let db = manager.get_connection();
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            format!("SELECT version FROM {TABLE}"),
        ))
        .await?;
    rows.iter()
        .map(|row| row.try_get::<String>("", "version").map_err(Error::from))
        .collect()
}
