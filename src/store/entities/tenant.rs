//! The `tenants` table.

use sea_orm::entity::prelude::*;

/// One tenant row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    /// Tenant id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Unique DNS label (`ux_tenants_slug`).
    pub slug: String,
    /// Human-readable name.
    pub display_name: String,
    /// `TenantState::as_str`.
    pub state: String,
    /// Why it is in its state.
    pub state_reason: String,
    /// The state to restore on undelete.
    pub state_before_delete: Option<String>,
    /// Plan id.
    pub plan: String,
    /// Labels as a JSON object of strings.
    #[sea_orm(column_type = "JsonBinary")]
    pub labels: Json,
    /// `IsolationModel::as_str`.
    pub isolation: String,
    /// Newest tenant-template file applied to its schema.
    pub template_version: i32,
    /// Optimistic-concurrency revision.
    pub revision: i64,
    /// Creation time.
    pub create_time: DateTimeUtc,
    /// Last change.
    pub update_time: DateTimeUtc,
    /// Soft-deletion time.
    pub delete_time: Option<DateTimeUtc>,
    /// Purge time of a soft-deleted tenant.
    pub purge_time: Option<DateTimeUtc>,
    /// Its id in another system, unique where set (`ux_tenants_external_id`).
    pub external_id: Option<String>,
    /// CIDR ranges its callers may call from, as a JSON array; empty for any.
    #[sea_orm(column_type = "JsonBinary")]
    pub allowed_source_ranges: Json,
    /// The last provisioning step finished, while PROVISIONING or FAILED.
    pub provisioning_step: Option<i32>,
    /// How many steps its provisioning has.
    pub provisioning_total_steps: Option<i32>,
    /// The name of the last step finished.
    pub provisioning_step_name: Option<String>,
}

super::plain_entity!();
