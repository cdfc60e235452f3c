//! The tenant aggregate: its fields, its creation, its etag and the
//! rules for changing its mutable fields. Pure functions over values;
//! storage and the wire format live elsewhere. Its states are in
//! [`crate::tenancy::state`], the state machine over them in
//! [`crate::tenancy::lifecycle`].

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::common::ids::TenantId;
use crate::error::{Error, Result};
use crate::tenancy::isolation::IsolationModel;
use crate::tenancy::progress::ProvisioningProgress;
pub use crate::tenancy::source_ranges::SourceRanges;
pub use crate::tenancy::state::TenantState;

/// A tenant as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tenant {
    /// The tenant's id.
    #[serde(serialize_with = "serialize_tenant_id")]
    pub id: TenantId,
    /// Unique DNS label.
    pub slug: String,
    /// Human-readable name.
    pub display_name: String,
    /// Lifecycle state.
    pub state: TenantState,
    /// Why it is in its state (suspension reason); empty otherwise.
    pub state_reason: String,
    /// The state to return to on undelete; set only while DELETED.
    #[serde(skip)]
    pub state_before_delete: Option<TenantState>,
    /// The plan id.
    pub plan: String,
    /// Labels, sorted by key.
    pub labels: BTreeMap<String, String>,
    /// Where its application data lives; fixed at creation.
    pub isolation: IsolationModel,
    /// The newest tenant-template file applied to its schema (SCHEMA
    /// tenants), 0 before any and for POOL tenants.
    pub template_version: i32,
    /// Incremented on every change; the etag is derived from it.
    #[serde(skip)]
    pub revision: i64,
    /// When it was created.
    pub create_time: DateTime<Utc>,
    /// When it last changed.
    pub update_time: DateTime<Utc>,
    /// When it was soft-deleted; set only while DELETED.
    pub delete_time: Option<DateTime<Utc>>,
    /// When a soft-deleted tenant will be purged; set only while DELETED.
    pub purge_time: Option<DateTime<Utc>>,
    /// Its id in another system (an identity provider's organisation, a
    /// CRM), unique among tenants where set.
    pub external_id: Option<String>,
    /// Where its API keys and users may call from; empty for anywhere.
    pub allowed_source_ranges: SourceRanges,
    /// How far its provisioning has come: set while PROVISIONING, kept on
    /// FAILED, `None` otherwise ([`crate::tenancy::progress`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provisioning: Option<ProvisioningProgress>,
}

fn serialize_tenant_id<S: serde::Serializer>(
    id: &TenantId,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(id)
}

/// What a creator supplies; everything else is decided by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTenant {
    /// The chosen id, or `None` for a server-picked UUIDv7.
    pub id: Option<TenantId>,
    /// Validated slug.
    pub slug: String,
    /// Validated display name.
    pub display_name: String,
    /// Validated plan id.
    pub plan: String,
    /// Validated labels.
    pub labels: BTreeMap<String, String>,
    /// The isolation model asked for; the plan's default when `None`.
    pub isolation: Option<IsolationModel>,
    /// Validated external id.
    pub external_id: Option<String>,
    /// Validated source ranges.
    pub allowed_source_ranges: SourceRanges,
}

/// New values for the mutable fields; `None` leaves a field unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantPatch {
    /// New slug.
    pub slug: Option<String>,
    /// New display name.
    pub display_name: Option<String>,
    /// New plan.
    pub plan: Option<String>,
    /// New labels, replacing all of them.
    pub labels: Option<BTreeMap<String, String>>,
    /// New external id; `Some(None)` clears it.
    pub external_id: Option<Option<String>>,
    /// New source ranges, replacing all of them.
    pub allowed_source_ranges: Option<SourceRanges>,
}

/// What to list: a page of tenants ordered by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantQuery {
    /// Only tenants after this id (the previous page's last).
    pub after: Option<TenantId>,
    /// Rows to fetch.
    pub limit: u64,
    /// Required states (all must hold).
    pub states: Vec<TenantState>,
    /// Required plans (all must hold).
    pub plans: Vec<String>,
    /// Required `(key, value)` labels.
    pub labels: Vec<(String, String)>,
    /// Include soft-deleted tenants.
    pub show_deleted: bool,
}

/// The plan a tenant gets when its creator names none.
pub const DEFAULT_PLAN: &str = "starter";

impl Tenant {
    /// A new tenant with the chosen `isolation`, created at `now`: ACTIVE
    /// when pooled, PROVISIONING while its schema is yet to be made.
    pub fn create(
        new: NewTenant,
        id: TenantId,
        isolation: IsolationModel,
        now: DateTime<Utc>,
    ) -> Self {
        let state = match isolation {
            IsolationModel::Pool => TenantState::Active,
            IsolationModel::Schema => TenantState::Provisioning,
        };
        Self {
            id,
            slug: new.slug,
            display_name: new.display_name,
            state,
            state_reason: String::new(),
            state_before_delete: None,
            plan: new.plan,
            labels: new.labels,
            isolation,
            template_version: 0,
            revision: 1,
            create_time: now,
            update_time: now,
            delete_time: None,
            purge_time: None,
            external_id: new.external_id,
            allowed_source_ranges: new.allowed_source_ranges,
            provisioning: None,
        }
    }

    /// The opaque etag of this revision: stable across backends and
    /// replicas, different after every change.
    pub fn etag(&self) -> String {
        let digest = Sha256::new()
            .chain_update(self.id.as_uuid().as_bytes())
            .chain_update(self.revision.to_be_bytes())
            .finalize();
        crate::common::hex(&digest[..8])
    }

    /// Refuses with ABORTED when `expected` is given and is not the current
    /// etag.
    pub fn check_etag(&self, expected: Option<&str>) -> Result<()> {
        Error::check_etag(expected, &self.etag(), || {
            format!("tenant {}", self.id.resource_name())
        })
    }

    /// A copy to change at `now`: the next revision.
    pub(crate) fn changed(&self, now: DateTime<Utc>) -> Self {
        let mut next = self.clone();
        next.revision += 1;
        next.update_time = now;
        next
    }

    /// FAILED_PRECONDITION `reason`: the tenant's state does not allow
    /// what was asked, as `message` says.
    pub(crate) fn refused(&self, reason: &'static str, message: impl Into<String>) -> Error {
        Error::failed_precondition(reason, "TENANT_STATE", self.id.resource_name(), message)
    }

    /// Refuses to `action` a deleted tenant.
    pub(crate) fn refuse_if_deleted(&self, action: &str) -> Result<()> {
        if self.state == TenantState::Deleted {
            return Err(self.refused(
                "TENANT_DELETED",
                format!(
                    "tenant {} is deleted; undelete it before you {action} it",
                    self.id.resource_name()
                ),
            ));
        }
        Ok(())
    }

    /// Applies a patch of mutable fields. Deleted tenants cannot be changed.
    /// Returns `None` when nothing would change.
    pub fn update(&self, patch: TenantPatch, now: DateTime<Utc>) -> Result<Option<Self>> {
        self.refuse_if_deleted("update")?;
        let mut next = self.changed(now);
        if let Some(slug) = patch.slug {
            next.slug = slug;
        }
        if let Some(display_name) = patch.display_name {
            next.display_name = display_name;
        }
        if let Some(plan) = patch.plan {
            next.plan = plan;
        }
        if let Some(labels) = patch.labels {
            next.labels = labels;
        }
        if let Some(external_id) = patch.external_id {
            next.external_id = external_id;
        }
        if let Some(ranges) = patch.allowed_source_ranges {
            next.allowed_source_ranges = ranges;
        }
        Ok(self.unless_unchanged(next))
    }

    /// `next`, unless it changes nothing a caller sees.
    pub(crate) fn unless_unchanged(&self, next: Self) -> Option<Self> {
        let unchanged = next.slug == self.slug
            && next.display_name == self.display_name
            && next.plan == self.plan
            && next.labels == self.labels
            && next.external_id == self.external_id
            && next.allowed_source_ranges == self.allowed_source_ranges
            && next.state == self.state
            && next.state_reason == self.state_reason
            && next.template_version == self.template_version
            && next.provisioning == self.provisioning;
        (!unchanged).then_some(next)
    }
}

/// Truncates to whole microseconds, the precision PostgreSQL keeps, so a
/// value returned at creation equals the value read back later.
pub fn truncate_to_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An ACTIVE POOL tenant made now.
    pub(crate) fn tenant() -> Tenant {
        let new = NewTenant {
            id: None,
            slug: "acme".into(),
            display_name: "Acme".into(),
            plan: DEFAULT_PLAN.into(),
            labels: BTreeMap::new(),
            isolation: None,
            external_id: None,
            allowed_source_ranges: SourceRanges::default(),
        };
        Tenant::create(
            new,
            TenantId::from_uuid(uuid::Uuid::now_v7()),
            IsolationModel::Pool,
            Utc::now(),
        )
    }

    #[test]
    fn stale_etag_is_aborted() {
        let tenant = tenant();
        assert!(tenant.check_etag(Some(&tenant.etag())).is_ok());
        assert!(tenant.check_etag(None).is_ok());
        assert!(matches!(
            tenant.check_etag(Some("stale")),
            Err(Error::Aborted { .. })
        ));
    }
}
