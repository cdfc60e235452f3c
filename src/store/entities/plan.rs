//! The `plans` table: a global catalogue, no tenant rows.

use sea_orm::entity::prelude::*;

/// One plan row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "plans")]
pub struct Model {
    /// Plan id, e.g. `starter`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Human-readable name.
    pub display_name: String,
    /// What the plan is for.
    pub description: String,
    /// The quota definitions as a JSON array (`domain::plan::QuotaDefinition`).
    #[sea_orm(column_type = "JsonBinary")]
    pub quotas: Json,
    /// `IsolationModel::as_str` of the plan's new tenants.
    pub default_isolation: String,
    /// The service level objectives as a JSON object
    /// (`quota::objectives::ServiceObjectives`); NULL for none.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub objectives: Option<Json>,
    /// Optimistic-concurrency revision.
    pub revision: i64,
    /// Creation time.
    pub create_time: DateTimeUtc,
    /// Last change.
    pub update_time: DateTimeUtc,
}

super::plain_entity!();
