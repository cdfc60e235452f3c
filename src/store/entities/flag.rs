//! The `flags` table: fleet-wide flag definitions, no tenant rows.

use sea_orm::entity::prelude::*;

/// One flag definition.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "flags")]
pub struct Model {
    /// The flag key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// `BOOLEAN`, `STRING`, `NUMBER` or `OBJECT`.
    pub value_type: String,
    /// Whether the flag is evaluated (a column so listings filter on it).
    pub enabled: bool,
    /// The rest of the definition as JSON (`domain::flag::FlagSpec`).
    pub document: String,
    /// Optimistic-concurrency revision.
    pub revision: i64,
    /// Creation time.
    pub create_time: DateTimeUtc,
    /// Last change.
    pub update_time: DateTimeUtc,
}

super::plain_entity!();
