//! The `usage_metrics` table: the metric catalogue, global (no tenant rows).

use sea_orm::entity::prelude::*;

/// One metric of the catalogue.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "usage_metrics")]
pub struct Model {
    /// The metric key, e.g. `api_requests`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// Human-readable name.
    pub display_name: String,
    /// What is measured and how.
    pub description: String,
    /// The UCUM unit of quantities.
    pub unit: String,
    /// `sum`, `count`, `max`, `unique_count` or `latest`.
    pub aggregation: String,
    /// The dimension UNIQUE_COUNT counts; empty otherwise.
    pub unique_dimension: String,
    /// Optimistic-concurrency revision.
    pub revision: i64,
    /// Creation time.
    pub create_time: DateTimeUtc,
    /// Last change.
    pub update_time: DateTimeUtc,
}

super::plain_entity!();
