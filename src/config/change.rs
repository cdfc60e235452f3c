//! Entries of the configuration change log: what changed at a revision,
//! and whether that matters to a given tenant.
//!
//! Invariant: revisions are fleet-wide and committed in increasing order
//! (storage takes them from one counter row inside the writing
//! transaction), so "every change after revision r" is a well-defined,
//! gap-free question for a reader that sees revision r committed.

use chrono::{DateTime, Utc};

use crate::common::ids::TenantId;
use crate::config::layered::LayerRef;

/// Where a flag change applies.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FlagScope {
    /// The flag's own definition, for every tenant.
    Fleet,
    /// The override of a plan.
    Plan(String),
    /// The override of a tenant.
    Tenant(TenantId),
}

/// What a change touched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeSubject {
    /// A configuration layer got a new version.
    Layer(LayerRef),
    /// A flag, or an override of it, was created, changed or removed.
    Flag {
        /// The flag key.
        key: String,
        /// The definition or override changed.
        scope: FlagScope,
    },
    /// The flag with this key was deleted.
    FlagDeleted(String),
    /// The tenant moved from one plan to another.
    TenantPlan {
        /// The tenant.
        tenant_id: TenantId,
        /// The plan it left.
        from: String,
        /// The plan it is on now.
        to: String,
    },
}

impl ChangeSubject {
    /// The tenant whose data this is; `None` for fleet-wide changes.
    pub fn tenant_id(&self) -> Option<TenantId> {
        match self {
            ChangeSubject::Layer(layer) => layer.tenant_id(),
            ChangeSubject::Flag {
                scope: FlagScope::Tenant(id),
                ..
            }
            | ChangeSubject::TenantPlan { tenant_id: id, .. } => Some(*id),
            _ => None,
        }
    }

    /// The plan whose layer or override this is, for plan-wide changes.
    pub fn plan(&self) -> Option<&str> {
        match self {
            ChangeSubject::Layer(LayerRef::Plan(plan))
            | ChangeSubject::Flag {
                scope: FlagScope::Plan(plan),
                ..
            } => Some(plan),
            _ => None,
        }
    }

    /// Whether the change may alter what a tenant on `plan` sees.
    pub fn concerns(&self, tenant_id: TenantId, plan: &str) -> bool {
        match (self.tenant_id(), self.plan()) {
            (Some(owner), _) => owner == tenant_id,
            (None, Some(changed_plan)) => changed_plan == plan,
            (None, None) => true,
        }
    }
}

/// One entry of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigChange {
    /// Its place in the fleet-wide order.
    pub revision: i64,
    /// What changed.
    pub subject: ChangeSubject,
    /// When it was committed.
    pub create_time: DateTime<Utc>,
}

/// The log's bounds: the newest revision committed and the newest no
/// longer retained (0 when none was pruned), as every ordered log has them.
pub use crate::store::sequence::LogBounds as RevisionBounds;

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> TenantId {
        TenantId::from_uuid(uuid::Uuid::now_v7())
    }

    #[test]
    fn a_change_concerns_its_tenant_its_plan_and_everyone_when_fleet_wide() {
        let (mine, other) = (tenant(), tenant());
        let own = ChangeSubject::Layer(LayerRef::Tenant(mine));
        assert!(own.concerns(mine, "starter"));
        assert!(!own.concerns(other, "starter"));
        let plan = ChangeSubject::Flag {
            key: "beta".into(),
            scope: FlagScope::Plan("starter".into()),
        };
        assert!(plan.concerns(mine, "starter"));
        assert!(!plan.concerns(mine, "enterprise"));
        assert!(ChangeSubject::Layer(LayerRef::Defaults).concerns(other, "enterprise"));
        assert!(ChangeSubject::FlagDeleted("beta".into()).concerns(other, "starter"));
        let moved = ChangeSubject::TenantPlan {
            tenant_id: mine,
            from: "starter".into(),
            to: "pro".into(),
        };
        assert!(moved.concerns(mine, "starter"));
        assert!(!moved.concerns(other, "pro"));
    }
}
