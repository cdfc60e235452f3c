//! Plan rows (a global catalogue) and the quota overrides of tenants.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::common::ids::TenantId;
use crate::error::{Error, Result};
use crate::quota::plan::Plan;
use crate::quota::quotas::QuotaOverride;
use crate::store::Store;
use crate::store::entities::{plan, quota_override};
use crate::store::revision::Stamps;
use crate::store::scope::Scope;
use crate::store::stored::stored;
use crate::tenancy::IsolationModel;

stored!(Plan in plan by Id, made stamps.create_time, to_active_model, from_model);

impl Store {
    /// The overrides of `tenant_id`, expired ones included.
    pub async fn tenant_overrides(
        &self,
        scope: Scope,
        tenant_id: TenantId,
    ) -> Result<Vec<QuotaOverride>> {
        let select = quota_override::Entity::find()
            .filter(quota_override::Column::TenantId.eq(tenant_id.as_uuid()))
            .order_by_asc(quota_override::Column::Quota);
        self.find_all(scope, select, override_from_model).await
    }
}

fn to_active_model(plan: &Plan) -> Result<plan::ActiveModel> {
    Ok(plan::ActiveModel {
        id: Set(plan.id.clone()),
        display_name: Set(plan.display_name.clone()),
        description: Set(plan.description.clone()),
        quotas: Set(serde_json::to_value(&plan.quotas).map_err(Error::internal)?),
        default_isolation: Set(plan.default_isolation.as_str().to_owned()),
        objectives: Set(plan
            .objectives
            .map(serde_json::to_value)
            .transpose()
            .map_err(Error::internal)?),
        revision: Set(plan.stamps.revision),
        create_time: Set(plan.stamps.create_time),
        update_time: Set(plan.stamps.update_time),
    })
}

fn from_model(row: plan::Model) -> Result<Plan> {
    let quotas = from_json(row.quotas)?;
    let objectives = row.objectives.map(from_json).transpose()?;
    Ok(Plan {
        id: row.id,
        display_name: row.display_name,
        description: row.description,
        quotas,
        objectives,
        default_isolation: IsolationModel::parse(&row.default_isolation).ok_or_else(|| {
            Error::internal(format!(
                "unknown isolation {:?} of a plan in storage",
                row.default_isolation
            ))
        })?,
        stamps: Stamps {
            revision: row.revision,
            create_time: row.create_time,
            update_time: row.update_time,
        },
    })
}

/// A JSON column's value. SQLite hands the seeded JSON back as a string
/// holding JSON.
fn from_json<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T> {
    match value {
        serde_json::Value::String(text) => serde_json::from_str(&text),
        other => serde_json::from_value(other),
    }
    .map_err(Error::internal)
}

pub(crate) fn override_from_model(row: quota_override::Model) -> Result<QuotaOverride> {
    Ok(QuotaOverride {
        tenant_id: TenantId::from_uuid(row.tenant_id),
        quota: row.quota,
        limit: (!row.unlimited).then_some(row.limit),
        reason: row.reason,
        expire_time: row.expire_time,
        stamps: Stamps {
            revision: row.revision,
            create_time: row.create_time,
            update_time: row.update_time,
        },
    })
}
