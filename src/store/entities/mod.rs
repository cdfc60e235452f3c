//! sea-orm entities, one per control-plane table. Only `storage` sees them;
//! the rest of the crate works with the domain types they convert to.
//!
//! Each file states its table's columns in full, the revision and
//! timestamps included, since the file is where a reader looks for the
//! schema; only what is the same for every entity and says nothing about
//! its table is written once, in `plain_entity!`.

/// The `Relation` and `ActiveModelBehavior` of an entity: tenantd
/// navigates no relation through sea-orm (its queries join by hand, in the
/// scope they run in) and hooks nothing to an entity's writes, so every
/// entity has an empty `Relation` and the default behaviour.
macro_rules! plain_entity {
    () => {
        /// No relations are navigated through sea-orm.
        #[derive(
            Copy,
            Clone,
            Debug,
            sea_orm::entity::prelude::EnumIter,
            sea_orm::entity::prelude::DeriveRelation,
        )]
        pub enum Relation {}

        impl sea_orm::entity::prelude::ActiveModelBehavior for ActiveModel {}
    };
}
pub(crate) use plain_entity;

pub mod api_key;
pub mod audit_event;
pub mod event;
pub mod flag;
pub mod idempotency_key;
pub mod plan;
pub mod plan_flag_override;
pub mod quota_override;
pub mod quota_threshold_crossing;
pub mod tenant;
pub mod tenant_call_minute;
pub mod tenant_domain;
pub mod tenant_flag_override;
pub mod usage_alert;
pub mod usage_event;
pub mod usage_metric;
pub mod usage_rollup;
pub mod usage_unique_value;
pub mod webhook_attempt;
pub mod webhook_delivery;
pub mod webhook_endpoint;
