//! The tenant aggregate: its fields, its lifecycle state machine and the
//! rules for changing it. Pure functions over values; storage and the wire
//! format live elsewhere.
//!
//! Lifecycle: `PROVISIONING → ACTIVE ⇄ SUSPENDED → DELETED`, and DELETED
//! returns to the state it came from on undelete, until it is purged. A
//! SCHEMA tenant whose provisioning fails goes `PROVISIONING → FAILED` with
//! the reason, and `FAILED → PROVISIONING` again when it is retried.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::common::ids::TenantId;
use crate::error::{Error, Result};
use crate::tenancy::isolation::IsolationModel;

/// The lifecycle state of a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TenantState {
    /// Being provisioned; not yet serving.
    Provisioning,
    /// Serving.
    Active,
    /// Refused until activated.
    Suspended,
    /// Soft-deleted, waiting for its purge time.
    Deleted,
    /// Provisioning failed; `state_reason` says why, and activating the
    /// tenant retries it.
    Failed,
}

impl TenantState {
    /// The stored and filterable spelling, e.g. `ACTIVE`.
    pub fn as_str(self) -> &'static str {
        match self {
            TenantState::Provisioning => "PROVISIONING",
            TenantState::Active => "ACTIVE",
            TenantState::Suspended => "SUSPENDED",
            TenantState::Deleted => "DELETED",
            TenantState::Failed => "FAILED",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        [
            TenantState::Provisioning,
            TenantState::Active,
            TenantState::Suspended,
            TenantState::Deleted,
            TenantState::Failed,
        ]
        .into_iter()
        .find(|state| state.as_str() == text)
    }
}

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

    fn changed(&self, now: DateTime<Utc>) -> Self {
        let mut next = self.clone();
        next.revision += 1;
        next.update_time = now;
        next
    }

    fn refuse_if_deleted(&self, action: &str) -> Result<()> {
        if self.state == TenantState::Deleted {
            return Err(Error::failed_precondition(
                "TENANT_DELETED",
                "TENANT_STATE",
                self.id.resource_name(),
                format!(
                    "tenant {} is deleted; undelete it before you {action} it",
                    self.id.resource_name()
                ),
            ));
        }
        Ok(())
    }

    fn refuse_if_provisioning(&self) -> Result<()> {
        if self.state == TenantState::Failed {
            return Err(Error::failed_precondition(
                "TENANT_FAILED",
                "TENANT_STATE",
                self.id.resource_name(),
                format!(
                    "tenant provisioning failed ({}); ActivateTenant retries it",
                    self.state_reason
                ),
            ));
        }
        if self.state == TenantState::Provisioning {
            return Err(Error::failed_precondition(
                "TENANT_PROVISIONING",
                "TENANT_STATE",
                self.id.resource_name(),
                "tenant is still being provisioned",
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
        Ok(self.unless_unchanged(next))
    }

    fn unless_unchanged(&self, next: Self) -> Option<Self> {
        let unchanged = next.slug == self.slug
            && next.display_name == self.display_name
            && next.plan == self.plan
            && next.labels == self.labels
            && next.state == self.state
            && next.state_reason == self.state_reason
            && next.template_version == self.template_version;
        (!unchanged).then_some(next)
    }

    /// ACTIVE → SUSPENDED with a reason; a suspended tenant only has its
    /// reason updated.
    pub fn suspend(&self, reason: &str, now: DateTime<Utc>) -> Result<Option<Self>> {
        self.refuse_if_deleted("suspend")?;
        self.refuse_if_provisioning()?;
        let mut next = self.changed(now);
        next.state = TenantState::Suspended;
        next.state_reason = reason.to_owned();
        Ok(self.unless_unchanged(next))
    }

    /// SUSPENDED → ACTIVE; an active tenant is left as it is. A FAILED
    /// tenant goes back to PROVISIONING, for its provisioning to be retried.
    pub fn activate(&self, now: DateTime<Utc>) -> Result<Option<Self>> {
        self.refuse_if_deleted("activate")?;
        if self.state == TenantState::Failed {
            let mut next = self.changed(now);
            next.state = TenantState::Provisioning;
            next.state_reason = String::new();
            return Ok(Some(next));
        }
        self.refuse_if_provisioning()?;
        let mut next = self.changed(now);
        next.state = TenantState::Active;
        next.state_reason = String::new();
        Ok(self.unless_unchanged(next))
    }

    /// PROVISIONING → ACTIVE once its schema is at `template_version`.
    /// `None` when the tenant is no longer provisioning (another replica
    /// finished it, or it was deleted meanwhile).
    pub fn provisioned(&self, template_version: i32, now: DateTime<Utc>) -> Option<Self> {
        if self.state != TenantState::Provisioning {
            return None;
        }
        let mut next = self.changed(now);
        next.state = TenantState::Active;
        next.state_reason = String::new();
        next.template_version = template_version;
        Some(next)
    }

    /// PROVISIONING → FAILED with `reason`; `None` when it is no longer
    /// provisioning.
    pub fn provisioning_failed(&self, reason: &str, now: DateTime<Utc>) -> Option<Self> {
        if self.state != TenantState::Provisioning {
            return None;
        }
        let mut next = self.changed(now);
        next.state = TenantState::Failed;
        next.state_reason = reason.to_owned();
        Some(next)
    }

    /// Records that its schema now stands at `template_version` (a fleet
    /// rollout); `None` when that is already recorded.
    pub fn template_applied(&self, template_version: i32, now: DateTime<Utc>) -> Option<Self> {
        let mut next = self.changed(now);
        next.template_version = template_version;
        self.unless_unchanged(next)
    }

    /// Any live state → DELETED, to be purged `retention` after `now`.
    pub fn delete(&self, retention: chrono::Duration, now: DateTime<Utc>) -> Result<Self> {
        if self.state == TenantState::Deleted {
            return Err(Error::NotFound {
                kind: "tenant",
                name: self.id.resource_name(),
            });
        }
        let mut next = self.changed(now);
        next.state_before_delete = Some(self.state);
        next.state = TenantState::Deleted;
        next.delete_time = Some(now);
        next.purge_time = Some(now + retention);
        Ok(next)
    }

    /// DELETED → the state it had before; a live tenant is refused with
    /// ALREADY_EXISTS, as AIP-164 asks.
    pub fn undelete(&self, now: DateTime<Utc>) -> Result<Self> {
        if self.state != TenantState::Deleted {
            return Err(Error::AlreadyExists {
                reason: "TENANT_NOT_DELETED",
                message: format!("tenant {} is not deleted", self.id.resource_name()),
            });
        }
        let mut next = self.changed(now);
        next.state = self.state_before_delete.unwrap_or(TenantState::Active);
        next.state_before_delete = None;
        next.delete_time = None;
        next.purge_time = None;
        Ok(next)
    }
}

/// Truncates to whole microseconds, the precision PostgreSQL keeps, so a
/// value returned at creation equals the value read back later.
pub fn truncate_to_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> Tenant {
        let new = NewTenant {
            id: None,
            slug: "acme".into(),
            display_name: "Acme".into(),
            plan: DEFAULT_PLAN.into(),
            labels: BTreeMap::new(),
            isolation: None,
        };
        Tenant::create(
            new,
            TenantId::from_uuid(uuid::Uuid::now_v7()),
            IsolationModel::Pool,
            Utc::now(),
        )
    }

    #[test]
    fn suspend_activate_delete_undelete_round_trip() {
        let now = Utc::now();
        let active = tenant();
        let suspended = active.suspend("unpaid", now).unwrap().unwrap();
        assert_eq!(suspended.state, TenantState::Suspended);
        assert_ne!(suspended.etag(), active.etag());
        let deleted = suspended.delete(chrono::Duration::days(30), now).unwrap();
        assert_eq!(deleted.purge_time, Some(now + chrono::Duration::days(30)));
        assert!(deleted.activate(now).is_err());
        let restored = deleted.undelete(now).unwrap();
        assert_eq!(restored.state, TenantState::Suspended);
        assert_eq!(restored.state_reason, "unpaid");
        let active_again = restored.activate(now).unwrap().unwrap();
        assert_eq!(active_again.state, TenantState::Active);
        assert!(active_again.activate(now).unwrap().is_none());
        assert!(matches!(
            active_again.undelete(now),
            Err(Error::AlreadyExists { .. })
        ));
    }

    #[test]
    fn failed_provisioning_is_retried_by_activation() {
        let now = Utc::now();
        let mut provisioning = tenant();
        provisioning.state = TenantState::Provisioning;
        let failed = provisioning.provisioning_failed("boom", now).unwrap();
        assert_eq!(failed.state, TenantState::Failed);
        assert_eq!(failed.state_reason, "boom");
        assert!(failed.suspend("x", now).is_err());
        assert!(failed.provisioned(1, now).is_none());
        let retried = failed.activate(now).unwrap().unwrap();
        assert_eq!(retried.state, TenantState::Provisioning);
        assert!(retried.state_reason.is_empty());
        let active = retried.provisioned(3, now).unwrap();
        assert_eq!(
            (active.state, active.template_version),
            (TenantState::Active, 3)
        );
        assert!(active.template_applied(3, now).is_none());
        assert_eq!(active.template_applied(4, now).unwrap().template_version, 4);
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
