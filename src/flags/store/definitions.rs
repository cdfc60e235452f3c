//! Flag rows: the fleet-wide catalogue of definitions. A flag's change is
//! logged for WatchConfig in the transaction that writes it.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::config::{ChangeSubject, FlagScope};
use crate::error::{Error, Result};
use crate::flags::flag::{Flag, FlagOverride, FlagSpec, FlagType};
use crate::flags::store::FlagFilter;
use crate::flags::store::overrides::plan_overrides;
use crate::store::Store;
use crate::store::Txn;
use crate::store::audit::AuditRecord;
use crate::store::entities::{flag, plan_flag_override, tenant_flag_override};
use crate::store::read::Paging;
use crate::store::revision::Stamps;
use crate::store::scope::Scope;
use crate::store::stored::stored;
use crate::store::write::ChangeRows;

stored!(Flag in flag by Key, made stamps.create_time, flag_model, flag_from_model, then log_change);

/// Logs a written flag's change for WatchConfig, in the write's
/// transaction.
async fn log_change(flag: &Flag, store: &Store, txn: &Txn) -> Result<()> {
    store
        .record_flag_change(txn, &flag.key, FlagScope::Fleet)
        .await
}

impl Store {
    /// At most `limit` flags after `after` matching `filter`, by key.
    pub async fn list_flags(
        &self,
        scope: Scope,
        filter: FlagFilter,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<Flag>> {
        let mut select = flag::Entity::find().page(flag::Column::Key, after, limit);
        if let Some(enabled) = filter.enabled {
            select = select.filter(flag::Column::Enabled.eq(enabled));
        }
        if let Some(value_type) = filter.value_type {
            select = select.filter(flag::Column::ValueType.eq(value_type.as_str()));
        }
        self.find_all(scope, select, flag_from_model).await
    }

    /// Every flag and every plan override: what evaluation caches.
    pub async fn flag_catalogue(&self, scope: Scope) -> Result<(Vec<Flag>, Vec<FlagOverride>)> {
        let (flags, overrides) = self
            .read_in(scope, async |txn| {
                let flags = flag::Entity::find()
                    .order_by_asc(flag::Column::Key)
                    .all(txn)
                    .await?;
                Ok((flags, plan_overrides(txn).await?))
            })
            .await?;
        let flags = flags
            .into_iter()
            .map(flag_from_model)
            .collect::<Result<_>>()?;
        Ok((flags, overrides))
    }

    /// Deletes the flag if it still has `revision`, with every override of
    /// it (the scope must be the platform's to reach every tenant's).
    pub async fn delete_flag(
        &self,
        scope: Scope,
        current: &Flag,
        audit: AuditRecord,
    ) -> Result<bool> {
        let delete = flag::Entity::delete_many()
            .filter(flag::Column::Key.eq(current.key.as_str()))
            .filter(flag::Column::Revision.eq(current.stamps.revision));
        self.write_if_changed(scope, audit, async |txn| {
            let deleted = delete.rows_changed(txn).await?;
            plan_flag_override::Entity::delete_many()
                .filter(plan_flag_override::Column::Flag.eq(current.key.as_str()))
                .exec(txn)
                .await?;
            tenant_flag_override::Entity::delete_many()
                .filter(tenant_flag_override::Column::Flag.eq(current.key.as_str()))
                .exec(txn)
                .await?;
            let gone = ChangeSubject::FlagDeleted(current.key.clone());
            self.record_config_change(txn, &gone).await?;
            Ok(deleted)
        })
        .await
    }
}

fn flag_model(flag: &Flag) -> Result<flag::ActiveModel> {
    Ok(flag::ActiveModel {
        key: Set(flag.key.clone()),
        value_type: Set(flag.value_type.as_str().to_owned()),
        enabled: Set(flag.spec.enabled),
        document: Set(serde_json::to_string(&flag.spec).map_err(Error::internal)?),
        revision: Set(flag.stamps.revision),
        create_time: Set(flag.stamps.create_time),
        update_time: Set(flag.stamps.update_time),
    })
}

fn flag_from_model(row: flag::Model) -> Result<Flag> {
    let value_type = FlagType::parse(&row.value_type)
        .ok_or_else(|| Error::internal(format!("unknown flag type {:?}", row.value_type)))?;
    let mut spec: FlagSpec = serde_json::from_str(&row.document).map_err(Error::internal)?;
    spec.enabled = row.enabled;
    Ok(Flag {
        key: row.key,
        value_type,
        spec,
        stamps: Stamps {
            revision: row.revision,
            create_time: row.create_time,
            update_time: row.update_time,
        },
    })
}
