//! Tenant rows and the idempotency keys of their creation.

use sea_orm::sea_query::extension::postgres::PgExpr;
use sea_orm::sea_query::extension::sqlite::SqliteExpr;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, DbBackend, EntityTrait, QueryFilter, Set};

use crate::common::ids::{TenantId, TenantRef};
use crate::config::ChangeSubject;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::audit::AuditRecord;
use crate::store::entities::tenant;
use crate::store::read::Paging;
use crate::store::scope::Scope;
use crate::store::stored::stored;
use crate::store::write::ChangeRows;
use crate::tenancy::isolation::IsolationModel;
use crate::tenancy::progress::ProvisioningProgress;
use crate::tenancy::source_ranges::SourceRanges;
use crate::tenancy::tenant::{Tenant, TenantQuery, TenantState};

stored!(Tenant in tenant by Id, made create_time, to_active_model, from_model);

impl Store {
    /// The tenant named by id, slug or external id, whatever its state.
    pub async fn find_tenant(&self, scope: Scope, by: &TenantRef) -> Result<Option<Tenant>> {
        let select = match by {
            TenantRef::Id(id) => tenant::Entity::find_by_id(id.as_uuid()),
            TenantRef::Slug(slug) => tenant::Entity::find().filter(tenant::Column::Slug.eq(slug)),
            TenantRef::External(external_id) => {
                tenant::Entity::find().filter(tenant::Column::ExternalId.eq(external_id))
            }
        };
        self.find_one(scope, select, from_model).await
    }

    /// Tenants matching `query`, ordered by id.
    pub async fn list_tenants(&self, scope: Scope, query: &TenantQuery) -> Result<Vec<Tenant>> {
        let after = query.after.as_ref().map(TenantId::as_uuid);
        let mut select = tenant::Entity::find().page(tenant::Column::Id, after, query.limit);
        if !query.show_deleted {
            select = select.filter(tenant::Column::State.ne(TenantState::Deleted.as_str()));
        }
        for state in &query.states {
            select = select.filter(tenant::Column::State.eq(state.as_str()));
        }
        for plan in &query.plans {
            select = select.filter(tenant::Column::Plan.eq(plan.as_str()));
        }
        for (key, value) in &query.labels {
            select = select.filter(self.label_equals(key, value));
        }
        self.find_all(scope, select, from_model).await
    }

    /// `labels ->> key = value`. The operator is spelled alike on both
    /// backends, but SQLite reads its right side as a JSON path, so the key
    /// is quoted into one there.
    fn label_equals(&self, key: &str, value: &str) -> Expr {
        let labels = Expr::col(tenant::Column::Labels);
        let field = match self.backend() {
            DbBackend::Postgres => PgExpr::cast_json_field(labels, key),
            _ => SqliteExpr::cast_json_field(labels, format!("$.\"{key}\"")),
        };
        field.eq(value)
    }

    /// Replaces the tenant if it still has `previous_revision`, writing the
    /// audit record in the same transaction. `false` when it changed
    /// meanwhile (nothing is written then).
    pub async fn replace_tenant(
        &self,
        scope: Scope,
        previous_revision: i64,
        next: &Tenant,
        audit: AuditRecord,
    ) -> Result<bool> {
        self.write_if_changed(scope, audit, async |txn| {
            // The row as read: both the plan read and the update are
            // conditional on it.
            let as_read = tenant::Column::Id
                .eq(next.id.as_uuid())
                .and(tenant::Column::Revision.eq(previous_revision));
            let previous_plan = tenant::Entity::find()
                .filter(as_read.clone())
                .one(txn)
                .await?
                .map(|row| row.plan);
            if let Some(from) = previous_plan.filter(|plan| *plan != next.plan) {
                // Watchers of the tenant's configuration must hear that its
                // plan layer and plan overrides are now another plan's.
                let moved = ChangeSubject::TenantPlan {
                    tenant_id: next.id,
                    from,
                    to: next.plan.clone(),
                };
                self.record_config_change(txn, &moved).await?;
            }
            let update = tenant::Entity::update_many()
                .set(to_active_model(next)?)
                .filter(as_read);
            update.rows_changed(txn).await
        })
        .await
    }
}

fn to_active_model(tenant: &Tenant) -> Result<tenant::ActiveModel> {
    Ok(tenant::ActiveModel {
        id: Set(tenant.id.as_uuid()),
        slug: Set(tenant.slug.clone()),
        display_name: Set(tenant.display_name.clone()),
        state: Set(tenant.state.as_str().to_owned()),
        state_reason: Set(tenant.state_reason.clone()),
        state_before_delete: Set(tenant
            .state_before_delete
            .map(|state| state.as_str().to_owned())),
        plan: Set(tenant.plan.clone()),
        labels: Set(serde_json::to_value(&tenant.labels).map_err(Error::internal)?),
        isolation: Set(tenant.isolation.as_str().to_owned()),
        template_version: Set(tenant.template_version),
        revision: Set(tenant.revision),
        create_time: Set(tenant.create_time),
        update_time: Set(tenant.update_time),
        delete_time: Set(tenant.delete_time),
        purge_time: Set(tenant.purge_time),
        external_id: Set(tenant.external_id.clone()),
        allowed_source_ranges: Set(
            serde_json::to_value(&tenant.allowed_source_ranges).map_err(Error::internal)?
        ),
        provisioning_step: Set(tenant.provisioning.as_ref().map(|progress| progress.step)),
        provisioning_total_steps: Set(tenant
            .provisioning
            .as_ref()
            .map(|progress| progress.total_steps)),
        provisioning_step_name: Set(tenant
            .provisioning
            .as_ref()
            .map(|progress| progress.step_name.clone())),
    })
}

fn parse_state(text: &str) -> Result<TenantState> {
    TenantState::parse(text)
        .ok_or_else(|| Error::internal(format!("unknown tenant state {text:?} in storage")))
}

fn from_model(row: tenant::Model) -> Result<Tenant> {
    Ok(Tenant {
        id: TenantId::from_uuid(row.id),
        slug: row.slug,
        display_name: row.display_name,
        state: parse_state(&row.state)?,
        state_reason: row.state_reason,
        state_before_delete: row
            .state_before_delete
            .as_deref()
            .map(parse_state)
            .transpose()?,
        plan: row.plan,
        labels: serde_json::from_value(row.labels).map_err(Error::internal)?,
        isolation: IsolationModel::parse(&row.isolation).ok_or_else(|| {
            Error::internal(format!("unknown isolation {:?} in storage", row.isolation))
        })?,
        template_version: row.template_version,
        revision: row.revision,
        create_time: row.create_time,
        update_time: row.update_time,
        delete_time: row.delete_time,
        purge_time: row.purge_time,
        external_id: row.external_id,
        allowed_source_ranges: serde_json::from_value(row.allowed_source_ranges)
            .ok()
            .and_then(SourceRanges::from_stored)
            .ok_or_else(|| Error::internal("unreadable source ranges in storage"))?,
        provisioning: match (row.provisioning_step, row.provisioning_total_steps) {
            (Some(step), Some(total_steps)) => Some(ProvisioningProgress {
                step,
                total_steps,
                step_name: row.provisioning_step_name.unwrap_or_default(),
            }),
            _ => None,
        },
    })
}
