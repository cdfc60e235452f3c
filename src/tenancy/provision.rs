//! The lifecycle of SCHEMA tenants' schemas: provisioning (PROVISIONING →
//! ACTIVE, or FAILED with the reason and everything rolled back), the
//! reconciliation of tenants a crash left PROVISIONING, and purging
//! deleted tenants past their purge time.
//!
//! Every provisioning of a tenant holds its advisory lock
//! ([`Provisioner::lock`]): a request and a reconciler, or two replicas,
//! never work on one tenant at once, and a crashed holder's lock dies with
//! its connection, so the reconciler can take over. A request waits for
//! the lock, so it answers the outcome even when the reconciler got there
//! first; the reconciler skips tenants someone else is working on.

use chrono::{DateTime, Utc};

use crate::access::{PlatformScope, TenantScope};
use crate::common::ids::TenantId;
use crate::error::{Error, Result, error_chain};
use crate::store::LockKey;
use crate::store::audit::Origin;
use crate::store::revision::Audited;
use crate::tenancy::isolation::IsolationModel;
use crate::tenancy::progress::ProvisioningProgress;
use crate::tenancy::provisioning::{Provisioner, ReportStep, Stopped};
use crate::tenancy::tenant::{Tenant, TenantQuery, TenantState};
use crate::tenancy::tenants::Tenants;

/// Who the audit log names for background provisioning and purges.
const SYSTEM_ACTOR: &str = "system:tenantd";
/// Tenants read per page while reconciling or purging.
const PAGE: u64 = 200;

/// The origin of tenantd's own background changes.
pub fn system_origin() -> Origin {
    Origin::system(SYSTEM_ACTOR)
}

impl Tenants {
    pub(crate) fn provisioner(&self) -> Result<&Provisioner> {
        self.provisioner.as_ref().ok_or_else(|| {
            Error::failed_precondition(
                "SCHEMA_ISOLATION_UNSUPPORTED",
                "DATABASE_BACKEND",
                "tenant.isolation",
                "SCHEMA isolation needs PostgreSQL",
            )
        })
    }

    /// Provisions a PROVISIONING tenant and answers it ACTIVE or FAILED.
    /// With `wait`, waits for another session working on it and answers
    /// its outcome; without, answers the tenant as it stands meanwhile. An
    /// interruption answers the error and leaves it for the reconciler.
    pub(crate) async fn provision(
        &self,
        tenant_id: TenantId,
        origin: &Origin,
        wait: bool,
    ) -> Result<Tenant> {
        let provisioner = self.provisioner()?;
        let scope = TenantScope::new(tenant_id);
        let Some(lock) = provisioner.lock(tenant_id, wait).await? else {
            return self.get(&scope).await;
        };
        let outcome = self.provision_locked(provisioner, &scope, origin).await;
        lock.release().await?;
        outcome
    }

    async fn provision_locked(
        &self,
        provisioner: &Provisioner,
        scope: &TenantScope,
        origin: &Origin,
    ) -> Result<Tenant> {
        let tenant_id = scope.tenant_id();
        let current = self.get(scope).await?;
        if current.state != TenantState::Provisioning {
            return Ok(current);
        }
        let started = std::time::Instant::now();
        // Each step is recorded (with its event) after it has committed.
        let report = StepRecorder {
            tenants: self,
            scope,
            origin,
        };
        let provisioned = provisioner.provision(tenant_id, &report).await;
        record_provisioning(&provisioned, started.elapsed());
        let reason = match provisioned {
            Ok(version) => {
                tracing::info!(tenant.id = %tenant_id, template_version = version, "tenant provisioned");
                return self
                    .change(scope, origin, None, "ProvisionTenant", |tenant, now| {
                        Ok(tenant.provisioned(version, now))
                    })
                    .await;
            }
            Err(Stopped::Interrupted(error)) => {
                tracing::warn!(tenant.id = %tenant_id, error = %error_chain(&error), "provisioning interrupted; the reconciler will finish it");
                return Err(error);
            }
            Err(Stopped::Failed { reason, error }) => {
                tracing::warn!(tenant.id = %tenant_id, error = %error_chain(&error), "provisioning failed; rolling it back");
                match provisioner.teardown(tenant_id).await {
                    Ok(()) => reason,
                    Err(undo) => format!("{reason}; rolling back failed too: {undo}"),
                }
            }
        };
        self.change(scope, origin, None, "ProvisioningFailed", |tenant, now| {
            Ok(tenant.provisioning_failed(&reason, now))
        })
        .await
    }

    /// Finishes every tenant left PROVISIONING that no session is
    /// provisioning now, under the reconciler's job lock; answers how many
    /// it looked at, or `None` when another replica holds the lock. One
    /// tenant's failure is logged and does not stop the others.
    pub async fn reconcile_provisioning(&self) -> Result<Option<usize>> {
        if self.provisioner.is_none() {
            return Ok(Some(0));
        }
        let Some(lock) = self.store.try_job_lock(LockKey::Reconcile).await? else {
            return Ok(None);
        };
        let outcome = self
            .all_in_state(&PlatformScope::system(), TenantState::Provisioning)
            .await;
        let origin = system_origin();
        for tenant in outcome.iter().flatten() {
            if let Err(error) = self.provision(tenant.id, &origin, false).await {
                tracing::warn!(tenant.id = %tenant.id, error = %error_chain(&error), "reconciling a provisioning tenant failed");
            }
        }
        lock.release().await?;
        outcome.map(|stuck| Some(stuck.len()))
    }

    /// Purges every deleted tenant whose purge time has passed, under the
    /// purge job's lock; answers how many were purged, or `None` when
    /// another replica holds the lock. A failure is logged and the tenant
    /// tried again next time.
    pub async fn purge_expired(&self, now: DateTime<Utc>) -> Result<Option<usize>> {
        let Some(lock) = self.store.try_job_lock(LockKey::Purge).await? else {
            return Ok(None);
        };
        let due = self.due_for_purge(now).await;
        let mut purged = 0;
        for tenant_id in due.iter().flatten() {
            match self.purge(*tenant_id).await {
                Ok(()) => purged += 1,
                Err(error) => {
                    tracing::warn!(tenant.id = %tenant_id, error = %error_chain(&error), "purging a tenant failed; retrying next time");
                }
            }
        }
        lock.release().await?;
        due.map(|_| Some(purged))
    }

    /// Every tenant in `state`, in id order.
    pub(crate) async fn all_in_state(
        &self,
        platform: &PlatformScope,
        state: TenantState,
    ) -> Result<Vec<Tenant>> {
        let mut found = Vec::new();
        loop {
            let query = TenantQuery {
                after: found.last().map(|tenant: &Tenant| tenant.id),
                limit: PAGE,
                states: vec![state],
                show_deleted: state == TenantState::Deleted,
                ..TenantQuery::default()
            };
            let page = self.store.list_tenants(platform.into(), &query).await?;
            let last_page = (page.len() as u64) < PAGE;
            found.extend(page);
            if last_page {
                return Ok(found);
            }
        }
    }

    /// The deleted tenants whose purge time is at or before `now`.
    pub async fn due_for_purge(&self, now: DateTime<Utc>) -> Result<Vec<TenantId>> {
        let deleted = self
            .all_in_state(&PlatformScope::system(), TenantState::Deleted)
            .await?;
        Ok(deleted
            .into_iter()
            .filter(|tenant| tenant.purge_time.is_some_and(|at| at <= now))
            .map(|tenant| tenant.id)
            .collect())
    }

    /// Purges a deleted tenant now, whatever its purge time: drops its
    /// schema and role (SCHEMA tenants), then removes its control-plane rows
    /// and audits the purge. The audit trail is kept.
    pub async fn purge(&self, tenant_id: TenantId) -> Result<()> {
        let platform = PlatformScope::system();
        let scope = TenantScope::new(tenant_id);
        let tenant = self.get(&scope).await?;
        if tenant.state != TenantState::Deleted {
            return Err(Error::failed_precondition(
                "TENANT_NOT_DELETED",
                "TENANT_STATE",
                tenant_id.resource_name(),
                format!(
                    "tenant {} is {}; only deleted tenants are purged (DeleteTenant first)",
                    tenant_id.resource_name(),
                    tenant.state.as_str()
                ),
            ));
        }
        if tenant.isolation == IsolationModel::Schema {
            self.provisioner()?.teardown(tenant_id).await?;
        }
        let audit = tenant.removal(&system_origin(), "PurgeTenant")?;
        if !self
            .store
            .purge_tenant((&platform).into(), tenant_id, tenant.revision, audit)
            .await?
        {
            return Err(Error::concurrent_modification(
                "the tenant changed while it was purged; retry",
            ));
        }
        tracing::info!(tenant.id = %tenant_id, "tenant purged");
        Ok(())
    }

    /// Every SCHEMA tenant whose schema a rollout migrates: ACTIVE and
    /// SUSPENDED ones (PROVISIONING ones are the reconciler's, FAILED ones
    /// have no schema, deleted ones wait for their purge).
    pub async fn schema_tenants(&self) -> Result<Vec<TenantId>> {
        let mut found = Vec::new();
        for state in [TenantState::Active, TenantState::Suspended] {
            let tenants = self.all_in_state(&PlatformScope::system(), state).await?;
            found.extend(
                tenants
                    .into_iter()
                    .filter(|tenant| tenant.isolation == IsolationModel::Schema)
                    .map(|tenant| tenant.id),
            );
        }
        found.sort_by_key(|id| id.as_uuid());
        Ok(found)
    }

    /// Applies the template files the tenant's schema lacks (none with
    /// `dry_run`) under its lock, and records the version it reached on the
    /// tenant. Answers the versions before and after; after a failed file,
    /// the error names it and the schema stays at the last good file.
    pub async fn migrate_template(&self, tenant_id: TenantId, dry_run: bool) -> Result<(i32, i32)> {
        let provisioner = self.provisioner()?;
        let Some(lock) = provisioner.lock(tenant_id, false).await? else {
            return Err(Error::Aborted {
                reason: "TENANT_BUSY",
                message: "another session is provisioning or migrating this tenant; run again"
                    .to_owned(),
            });
        };
        let outcome = self.migrate_locked(provisioner, tenant_id, dry_run).await;
        lock.release().await?;
        outcome
    }

    async fn migrate_locked(
        &self,
        provisioner: &Provisioner,
        tenant_id: TenantId,
        dry_run: bool,
    ) -> Result<(i32, i32)> {
        let before = provisioner.applied_version(tenant_id).await?;
        if dry_run {
            return Ok((before, provisioner.template().latest_version()));
        }
        let applied = provisioner.apply_pending(tenant_id).await;
        let after = match &applied {
            Ok(version) => *version,
            Err(_) => provisioner.applied_version(tenant_id).await?,
        };
        let scope = TenantScope::new(tenant_id);
        self.change(
            &scope,
            &system_origin(),
            None,
            "MigrateTenantTemplate",
            |tenant, now| Ok(tenant.template_applied(after, now)),
        )
        .await?;
        match applied {
            Ok(_) => Ok((before, after)),
            Err(Stopped::Interrupted(error)) => Err(error),
            Err(Stopped::Failed { reason, .. }) => Err(Error::failed_precondition(
                "TEMPLATE_FILE_FAILED",
                "TENANT_TEMPLATE",
                tenant_id.resource_name(),
                reason,
            )),
        }
    }
}

/// Records each provisioning step as a `ProvisioningStep` change of the
/// tenant, whose audit record writes its `tenant.provisioning_step` event.
struct StepRecorder<'a> {
    tenants: &'a Tenants,
    scope: &'a TenantScope,
    origin: &'a Origin,
}

impl ReportStep for StepRecorder<'_> {
    async fn step_done(&self, done: ProvisioningProgress) -> Result<()> {
        self.tenants
            .change(
                self.scope,
                self.origin,
                None,
                "ProvisioningStep",
                |tenant, now| Ok(tenant.provisioning_step(&done, now)),
            )
            .await
            .map(drop)
    }
}

/// The histogram of provisioning times, by `outcome`.
pub const PROVISIONING_DURATION: &str = "tenantd_provisioning_duration_seconds";
/// The counter of provisioning attempts that failed.
pub const PROVISIONING_FAILURES: &str = "tenantd_provisioning_failures_total";

/// Records one provisioning attempt that took `took`; an interrupted one
/// is finished later by the reconciler and counts then.
fn record_provisioning<T>(
    provisioned: &std::result::Result<T, Stopped>,
    took: std::time::Duration,
) {
    let outcome = match provisioned {
        Ok(_) => "succeeded",
        Err(Stopped::Failed { .. }) => {
            metrics::counter!(PROVISIONING_FAILURES).increment(1);
            "failed"
        }
        Err(Stopped::Interrupted(_)) => return,
    };
    metrics::histogram!(PROVISIONING_DURATION, "outcome" => outcome).record(took.as_secs_f64());
}
