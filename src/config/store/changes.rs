//! The configuration change log (`config_changes`, migration m0014) and its
//! revision counter (`config_revision`).
//!
//! A writer calls [`Store::record_config_change`] inside the transaction of
//! its change: incrementing the counter row locks it until commit, so
//! writers commit in revision order and a reader never finds an older
//! revision appear after a newer one.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Order, Query};
use sea_orm::{ConnectionTrait, DatabaseTransaction, QueryResult};

use crate::common::ids::TenantId;
use crate::config::change::{ChangeSubject, ConfigChange, FlagScope, RevisionBounds};
use crate::config::layered::LayerRef;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::scope::Scope;
use crate::store::sequence::{self, Log};

const TABLE: &str = "config_changes";

/// A change's columns, as [`decode`] reads them.
const COLUMNS: [&str; 6] = [
    "revision",
    "tenant_id",
    "plan",
    "kind",
    "subject",
    "create_time",
];

/// The columns a subject is stored in.
struct Columns {
    tenant_id: Option<uuid::Uuid>,
    plan: Option<String>,
    kind: &'static str,
    subject: String,
}

fn columns(subject: &ChangeSubject) -> Columns {
    let tenant_id = subject.tenant_id().map(|id| id.as_uuid());
    let mut plan = subject.plan().map(str::to_owned);
    let (kind, subject) = match subject {
        ChangeSubject::Layer(_) => ("config", String::new()),
        ChangeSubject::Flag { key, .. } => ("flag", key.clone()),
        ChangeSubject::FlagDeleted(key) => ("flag_deleted", key.clone()),
        ChangeSubject::TenantPlan { from, to, .. } => {
            // A tenant row needs no plan for its scope: the column keeps the
            // plan left, so a replay knows the plan before the move.
            plan = Some(from.clone());
            ("plan", to.clone())
        }
    };
    Columns {
        tenant_id,
        plan,
        kind,
        subject,
    }
}

fn decode(row: &QueryResult) -> Result<ConfigChange> {
    let tenant_id: Option<uuid::Uuid> = row.try_get("", "tenant_id")?;
    let tenant_id = tenant_id.map(TenantId::from_uuid);
    let plan: Option<String> = row.try_get("", "plan")?;
    let kind: String = row.try_get("", "kind")?;
    let text: String = row.try_get("", "subject")?;
    let subject = match (kind.as_str(), tenant_id, plan) {
        ("config", Some(id), None) => ChangeSubject::Layer(LayerRef::Tenant(id)),
        ("config", None, Some(plan)) => ChangeSubject::Layer(LayerRef::Plan(plan)),
        ("config", None, None) => ChangeSubject::Layer(LayerRef::Defaults),
        ("flag", tenant_id, plan) => ChangeSubject::Flag {
            key: text,
            scope: match (tenant_id, plan) {
                (Some(id), _) => FlagScope::Tenant(id),
                (None, Some(plan)) => FlagScope::Plan(plan),
                (None, None) => FlagScope::Fleet,
            },
        },
        ("flag_deleted", _, _) => ChangeSubject::FlagDeleted(text),
        ("plan", Some(tenant_id), Some(from)) => ChangeSubject::TenantPlan {
            tenant_id,
            from,
            to: text,
        },
        _ => {
            return Err(Error::internal(format!(
                "unknown config change kind {kind}"
            )));
        }
    };
    Ok(ConfigChange {
        revision: row.try_get("", "revision")?,
        subject,
        create_time: row.try_get::<DateTime<Utc>>("", "create_time")?,
    })
}

impl Store {
    /// Takes the next revision and logs `subject` under it, inside `txn`
    /// (which must be in the scope of the subject's tenant, or the
    /// platform's for fleet-wide subjects). Returns the revision.
    pub(crate) async fn record_config_change(
        &self,
        txn: &DatabaseTransaction,
        subject: &ChangeSubject,
    ) -> Result<i64> {
        let revision = sequence::take_next(txn, self.backend(), Log::Config).await?;
        let stored = columns(subject);
        let statement = Query::insert()
            .into_table(Alias::new(TABLE))
            .columns(COLUMNS.map(Alias::new))
            .values([
                revision.into(),
                stored.tenant_id.into(),
                stored.plan.into(),
                stored.kind.into(),
                stored.subject.into(),
                Utc::now().into(),
            ])
            .map_err(Error::internal)?
            .to_owned();
        txn.execute_raw(self.backend().build(&statement)).await?;
        Ok(revision)
    }

    /// Logs a change of `key` (its definition or an override) for
    /// WatchConfig, inside `txn`.
    pub(crate) async fn record_flag_change(
        &self,
        txn: &DatabaseTransaction,
        key: &str,
        scope: FlagScope,
    ) -> Result<()> {
        let changed = ChangeSubject::Flag {
            key: key.to_owned(),
            scope,
        };
        self.record_config_change(txn, &changed).await.map(drop)
    }

    /// Where the log stands.
    pub async fn config_revision_bounds(&self, scope: Scope) -> Result<RevisionBounds> {
        let backend = self.backend();
        let bounds = self
            .read_in(scope, async |txn| {
                sequence::bounds_in(txn, backend, Log::Config).await
            })
            .await?;
        Ok(RevisionBounds {
            current: bounds.current,
            pruned_through: bounds.pruned_through,
        })
    }

    /// Up to `limit` changes after `after` that `scope` may see (a tenant
    /// sees its own and the fleet-wide ones), oldest first.
    pub async fn config_changes_after(
        &self,
        scope: Scope,
        after: i64,
        limit: u64,
    ) -> Result<Vec<ConfigChange>> {
        let mut statement = Query::select()
            .columns(COLUMNS.map(Alias::new))
            .from(Alias::new(TABLE))
            .and_where(Expr::col(Alias::new("revision")).gt(after))
            .order_by(Alias::new("revision"), Order::Asc)
            .limit(limit)
            .to_owned();
        if let Scope::Tenant(tenant_id) = scope {
            // RLS also enforces this on PostgreSQL; SQLite has only the filter.
            statement.and_where(
                Expr::col(Alias::new("tenant_id"))
                    .is_null()
                    .or(Expr::col(Alias::new("tenant_id")).eq(tenant_id.as_uuid())),
            );
        }
        let statement = self.backend().build(&statement);
        let rows = self
            .read_in(scope, async |txn| Ok(txn.query_all_raw(statement).await?))
            .await?;
        rows.iter().map(decode).collect()
    }

    /// Forgets the changes committed before `cutoff`; returns how many.
    pub async fn prune_config_changes(&self, cutoff: DateTime<Utc>) -> Result<u64> {
        self.prune_log(Log::Config, cutoff).await
    }
}
