//! The tenant's lifecycle state machine: suspension, activation,
//! provisioning's outcome, soft deletion and its undoing. Pure functions
//! over [`Tenant`] values, each answering the next tenant (or refusing).
//!
//! Lifecycle: `PROVISIONING → ACTIVE ⇄ SUSPENDED → DELETED`, and DELETED
//! returns to the state it came from on undelete, until it is purged. A
//! SCHEMA tenant whose provisioning fails goes `PROVISIONING → FAILED` with
//! the reason, and `FAILED → PROVISIONING` again when it is retried.

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::tenancy::progress::ProvisioningProgress;
use crate::tenancy::state::TenantState;
use crate::tenancy::tenant::Tenant;

/// A change of a tenant's lifecycle that an operator asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition<'a> {
    /// DeleteTenant: soft-delete, purged after the retention.
    Delete,
    /// UndeleteTenant: back from soft-deletion.
    Undelete,
    /// SuspendTenant, for the reason given.
    Suspend(&'a str),
    /// ActivateTenant: back from suspension, or provisioning retried.
    Activate,
}

impl Transition<'_> {
    /// The audited action.
    pub fn action(self) -> &'static str {
        match self {
            Self::Delete => "DeleteTenant",
            Self::Undelete => "UndeleteTenant",
            Self::Suspend(_) => "SuspendTenant",
            Self::Activate => "ActivateTenant",
        }
    }
}

impl Tenant {
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
            // A new attempt reports every step again.
            next.provisioning = self
                .provisioning
                .as_ref()
                .map(|progress| ProvisioningProgress::start(progress.total_steps));
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
        next.provisioning = None;
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

impl Tenant {
    /// Records that `done` has finished; `None` when the tenant is no
    /// longer PROVISIONING or that step (or a later one) is recorded
    /// already.
    pub fn provisioning_step(
        &self,
        done: &ProvisioningProgress,
        now: DateTime<Utc>,
    ) -> Option<Self> {
        if self.state != TenantState::Provisioning {
            return None;
        }
        if self
            .provisioning
            .as_ref()
            .is_some_and(|recorded| recorded.step >= done.step)
        {
            return None;
        }
        let mut next = self.changed(now);
        next.provisioning = Some(done.clone());
        Some(next)
    }
}

impl Tenant {
    /// Refuses a tenant whose provisioning has not succeeded.
    fn refuse_if_provisioning(&self) -> Result<()> {
        if self.state == TenantState::Failed {
            return Err(self.refused(
                "TENANT_FAILED",
                format!(
                    "tenant provisioning failed ({}); ActivateTenant retries it",
                    self.state_reason
                ),
            ));
        }
        if self.state == TenantState::Provisioning {
            return Err(self.refused("TENANT_PROVISIONING", "tenant is still being provisioned"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenancy::tenant::tests::tenant;

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

    fn provisioning() -> Tenant {
        let mut tenant = tenant();
        tenant.state = TenantState::Provisioning;
        tenant.provisioning = Some(ProvisioningProgress::start(4));
        tenant
    }

    #[test]
    fn steps_move_forward_only() {
        let now = Utc::now();
        let role = provisioning()
            .provisioning_step(&ProvisioningProgress::role(4), now)
            .unwrap();
        assert_eq!(role.provisioning.as_ref().unwrap().step, 1);
        assert!(
            role.provisioning_step(&ProvisioningProgress::role(4), now)
                .is_none()
        );
        let file = role
            .provisioning_step(
                &ProvisioningProgress::template_file(2, "0002_b.sql", 4),
                now,
            )
            .unwrap();
        let progress = file.provisioning.unwrap();
        assert_eq!((progress.step, progress.total_steps), (4, 4));
        assert_eq!(
            progress.step_name,
            "apply template file 0002_b.sql (2 of 2)"
        );
    }

    #[test]
    fn only_a_provisioning_tenant_records_steps() {
        let mut active = provisioning();
        active.state = TenantState::Active;
        assert!(
            active
                .provisioning_step(&ProvisioningProgress::schema(4), Utc::now())
                .is_none()
        );
    }
}
