//! The transactional outbox: every audited change that concerns the fleet
//! also writes a lifecycle event, in the same transaction, under the next
//! number of the event log ([`crate::store::sequence`]).
//!
//! Invariants:
//! - a change and its events commit together or not at all: the event is
//!   written by [`crate::store::insert_audit`], which every audited write
//!   calls inside its transaction;
//! - sequences are fleet-wide, gap-free and in commit order, so a reader
//!   that resumes after sequence `s` misses nothing and sees nothing twice;
//! - which audit action makes which event is decided here, in one table
//!   ([`EVENT_TYPES`]), so a new audited action either names its event or
//!   is knowingly left out;
//! - the event's data is the audit record's snapshot of the resource after
//!   the change (before it, for removals): what the audit trail already
//!   holds, so an event carries nothing the trail does not.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, DatabaseTransaction, DbBackend, Set};
use serde_json::Value;

use crate::common::ids::{TenantId, new_v7_at};
use crate::error::Result;
use crate::store::audit::AuditRecord;
use crate::store::entities::event;
use crate::store::sequence::{self, Log};

/// The prefix of every event type: `dev.tenantd.tenant.created.v1`.
pub const TYPE_PREFIX: &str = "dev.tenantd.";
/// The suffix of every event type of this version of the data.
pub const TYPE_SUFFIX: &str = ".v1";

/// The event each audited action makes, by its short type (the type
/// between [`TYPE_PREFIX`] and [`TYPE_SUFFIX`]). Actions not listed make
/// none: the creation and change of a usage metric or a plan definition
/// concern operators, who read the audit trail, more than the fleet.
pub const EVENT_TYPES: &[(&str, &str)] = &[
    ("CreateTenant", "tenant.created"),
    ("ImportTenant", "tenant.created"),
    ("UpdateTenant", "tenant.updated"),
    ("SuspendTenant", "tenant.suspended"),
    ("ActivateTenant", "tenant.activated"),
    ("DeleteTenant", "tenant.deleted"),
    ("UndeleteTenant", "tenant.undeleted"),
    ("PurgeTenant", "tenant.purged"),
    ("ProvisionTenant", "tenant.provisioned"),
    ("ProvisioningStep", "tenant.provisioning_step"),
    ("ProvisioningFailed", "tenant.provisioning_failed"),
    ("CreateDomain", "domain.added"),
    ("VerifyDomain", "domain.verified"),
    ("DeleteDomain", "domain.removed"),
    ("ReleaseDomain", "domain.removed"),
    ("ExpireDomain", "domain.removed"),
    ("CreateApiKey", "api_key.created"),
    ("RotateApiKey", "api_key.rotated"),
    ("RevokeApiKey", "api_key.revoked"),
    ("CreatePlan", "plan.created"),
    ("UpdatePlan", "plan.updated"),
    ("SetQuotaOverride", "quota_override.set"),
    ("DeleteQuotaOverride", "quota_override.removed"),
    ("QuotaThresholdCrossed", "quota.threshold_crossed"),
    ("UsageAllowanceCrossed", "usage.allowance_crossed"),
    ("UpdateConfig", "config.changed"),
    ("RollbackConfig", "config.changed"),
    ("UpdateBranding", "config.changed"),
    ("CreateFlag", "flag.changed"),
    ("UpdateFlag", "flag.changed"),
    ("DeleteFlag", "flag.changed"),
    ("SetFlagOverride", "flag.changed"),
    ("DeleteFlagOverride", "flag.changed"),
];

/// The short type of the event a tenant's move to another plan also makes,
/// next to its `tenant.updated`.
pub const PLAN_CHANGED: &str = "tenant.plan_changed";

/// The full CloudEvents type of a short type: `tenant.created` →
/// `dev.tenantd.tenant.created.v1`.
pub fn full_type(short: &str) -> String {
    format!("{TYPE_PREFIX}{short}{TYPE_SUFFIX}")
}

/// The short type of a full one, if it is one of tenantd's.
pub fn short_type(full: &str) -> Option<&str> {
    full.strip_prefix(TYPE_PREFIX)?.strip_suffix(TYPE_SUFFIX)
}

/// Every short type an event may have, once each, sorted.
pub fn short_types() -> Vec<&'static str> {
    let mut types: Vec<&str> = EVENT_TYPES.iter().map(|(_, short)| *short).collect();
    types.push(PLAN_CHANGED);
    types.sort_unstable();
    types.dedup();
    types
}

/// The short type `given` names, short (`tenant.created`) or full
/// (`dev.tenantd.tenant.created.v1`); `None` when it names none.
pub fn parse_type(given: &str) -> Option<&'static str> {
    let short = short_type(given).unwrap_or(given);
    short_types().into_iter().find(|known| *known == short)
}

/// One event as the outbox holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    /// Its place in the fleet-wide log.
    pub sequence: i64,
    /// Its CloudEvents id.
    pub id: uuid::Uuid,
    /// The tenant concerned; `None` for the platform's.
    pub tenant_id: Option<TenantId>,
    /// Its short type, e.g. `tenant.created`.
    pub short_type: String,
    /// Its CloudEvents subject: `tenants/{id}`, or a platform resource.
    pub subject: String,
    /// The resource changed.
    pub resource: String,
    /// When the change was made.
    pub time: DateTime<Utc>,
    /// The resource after the change (before it, for removals).
    pub data: Option<Value>,
}

impl From<event::Model> for OutboxEvent {
    fn from(row: event::Model) -> Self {
        Self {
            sequence: row.sequence,
            id: row.id,
            tenant_id: row.tenant_id.map(TenantId::from_uuid),
            short_type: row.r#type,
            subject: row.subject,
            resource: row.resource,
            time: row.time,
            data: row.data,
        }
    }
}

/// The short types of the events `record` makes, in the order written.
pub fn event_types_of(record: &AuditRecord) -> Vec<&'static str> {
    let Some((_, short)) = EVENT_TYPES
        .iter()
        .find(|(action, _)| *action == record.action)
    else {
        return Vec::new();
    };
    let mut types = vec![*short];
    if record.action == "UpdateTenant" && plan_of(&record.before) != plan_of(&record.after) {
        types.push(PLAN_CHANGED);
    }
    types
}

fn plan_of(snapshot: &Option<Value>) -> Option<&Value> {
    snapshot.as_ref()?.get("plan")
}

/// Writes the events `record` makes inside `txn`, at `now`.
pub(crate) async fn write_events(
    txn: &DatabaseTransaction,
    backend: DbBackend,
    record: &AuditRecord,
    now: DateTime<Utc>,
) -> Result<()> {
    for short in event_types_of(record) {
        let sequence = sequence::take_next(txn, backend, Log::Events).await?;
        let subject = match record.tenant_id {
            Some(tenant_id) => tenant_id.resource_name(),
            None => record.resource.clone(),
        };
        event::ActiveModel {
            sequence: Set(sequence),
            id: Set(new_v7_at(now)),
            tenant_id: Set(record.tenant_id.map(|id| id.as_uuid())),
            r#type: Set(short.to_owned()),
            subject: Set(subject),
            resource: Set(record.resource.clone()),
            time: Set(now),
            data: Set(record.after.clone().or_else(|| record.before.clone())),
        }
        .insert(txn)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(action: &'static str, before: Option<Value>, after: Option<Value>) -> AuditRecord {
        AuditRecord {
            tenant_id: None,
            actor: "admin:test".to_owned(),
            action,
            resource: "tenants/x".to_owned(),
            request_id: String::new(),
            before,
            after,
        }
    }

    #[test]
    fn a_move_to_another_plan_is_also_a_plan_change() {
        let moved = record(
            "UpdateTenant",
            Some(serde_json::json!({"plan": "starter"})),
            Some(serde_json::json!({"plan": "enterprise"})),
        );
        assert_eq!(
            event_types_of(&moved),
            ["tenant.updated", "tenant.plan_changed"]
        );
        let renamed = record(
            "UpdateTenant",
            Some(serde_json::json!({"plan": "starter", "slug": "a"})),
            Some(serde_json::json!({"plan": "starter", "slug": "b"})),
        );
        assert_eq!(event_types_of(&renamed), ["tenant.updated"]);
    }

    #[test]
    fn unlisted_actions_make_no_event() {
        assert!(event_types_of(&record("CreateMetric", None, None)).is_empty());
    }

    #[test]
    fn types_round_trip_through_their_full_form() {
        for short in short_types() {
            assert_eq!(short_type(&full_type(short)), Some(short));
        }
        assert_eq!(full_type("tenant.created"), "dev.tenantd.tenant.created.v1");
        assert_eq!(short_type("com.example.other"), None);
    }
}
