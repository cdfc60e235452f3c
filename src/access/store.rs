//! API key rows. Changes to a key are conditional on the row still being
//! what the caller read, so concurrent revocations and rotations never
//! overwrite each other.

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

use sea_orm::sea_query::ExprTrait;

use crate::access::api_key::ApiKey;
use crate::common::ids::{ApiKeyId, TenantId};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::audit::AuditRecord;
use crate::store::entities::api_key;
use crate::store::read::Paging;
use crate::store::scope::Scope;
use crate::store::write::ChangeRows;

impl Store {
    /// Inserts `key` with its audit record. For a rotation, `replacing` is
    /// the old key as read and as it becomes; `false` if the old key changed
    /// meanwhile, in which case nothing is written.
    pub async fn insert_api_key(
        &self,
        scope: Scope,
        key: &ApiKey,
        replacing: Option<(&ApiKey, &ApiKey)>,
        audit: AuditRecord,
    ) -> Result<bool> {
        self.write_if_changed(scope, audit, async |txn| {
            if let Some((read, shortened)) = replacing {
                let mut update = api_key::Entity::update_many()
                    .set(api_key::ActiveModel {
                        expire_time: Set(shortened.expire_time),
                        ..Default::default()
                    })
                    .filter(api_key::Column::Id.eq(read.id.as_uuid()))
                    .filter(api_key::Column::RevokeTime.is_null());
                update = match read.expire_time {
                    Some(expiry) => update.filter(api_key::Column::ExpireTime.eq(expiry)),
                    None => update.filter(api_key::Column::ExpireTime.is_null()),
                };
                // The old key changed meanwhile: the new one is not made.
                if update.rows_changed(txn).await? == 0 {
                    return Ok(0);
                }
            }
            to_active_model(key)?.insert(txn).await?;
            Ok(1)
        })
        .await
    }

    /// The key `key_id` of `tenant_id`.
    pub async fn find_api_key(
        &self,
        scope: Scope,
        tenant_id: TenantId,
        key_id: ApiKeyId,
    ) -> Result<Option<ApiKey>> {
        let select = api_key::Entity::find_by_id(key_id.as_uuid())
            .filter(api_key::Column::TenantId.eq(tenant_id.as_uuid()));
        self.find_one(scope, select, from_model).await
    }

    /// Keys of `tenant_id` after `after`, oldest first.
    pub async fn list_api_keys(
        &self,
        scope: Scope,
        tenant_id: TenantId,
        show_revoked: bool,
        after: Option<ApiKeyId>,
        limit: u64,
    ) -> Result<Vec<ApiKey>> {
        let mut select = api_key::Entity::find()
            .filter(api_key::Column::TenantId.eq(tenant_id.as_uuid()))
            .page(
                api_key::Column::Id,
                after.as_ref().map(ApiKeyId::as_uuid),
                limit,
            );
        if !show_revoked {
            select = select.filter(api_key::Column::RevokeTime.is_null());
        }
        self.find_all(scope, select, from_model).await
    }

    /// Stores the revocation of a key with its audit record; `false` if it
    /// was revoked meanwhile.
    pub async fn revoke_api_key(
        &self,
        scope: Scope,
        revoked: &ApiKey,
        audit: AuditRecord,
    ) -> Result<bool> {
        let revoke = api_key::Entity::update_many()
            .set(api_key::ActiveModel {
                revoke_time: Set(revoked.revoke_time),
                ..Default::default()
            })
            .filter(api_key::Column::Id.eq(revoked.id.as_uuid()))
            .filter(api_key::Column::RevokeTime.is_null());
        self.exec_if_changed(scope, audit, revoke).await
    }

    /// The key with public `prefix`, whichever tenant holds it: the gate's
    /// lookup of a presented key, in the platform scope.
    pub async fn find_api_key_by_prefix(
        &self,
        scope: Scope,
        prefix: &str,
    ) -> Result<Option<ApiKey>> {
        let select = api_key::Entity::find().filter(api_key::Column::Prefix.eq(prefix));
        self.find_one(scope, select, from_model).await
    }

    /// Records that `key_id` of `tenant_id` was used at `used`, unless a
    /// later use is already recorded. Not audited: it is bookkeeping, and
    /// arrives in batches.
    pub async fn record_api_key_use(
        &self,
        scope: Scope,
        tenant_id: TenantId,
        key_id: ApiKeyId,
        used: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        let record = api_key::Entity::update_many()
            .set(api_key::ActiveModel {
                last_used_time: Set(Some(used)),
                ..Default::default()
            })
            .filter(api_key::Column::Id.eq(key_id.as_uuid()))
            .filter(api_key::Column::TenantId.eq(tenant_id.as_uuid()))
            .filter(
                api_key::Column::LastUsedTime
                    .is_null()
                    .or(api_key::Column::LastUsedTime.lt(used)),
            );
        self.write_unannounced(scope, async |txn| record.rows_changed(txn).await)
            .await
            .map(drop)
    }
}

fn to_active_model(key: &ApiKey) -> Result<api_key::ActiveModel> {
    Ok(api_key::ActiveModel {
        id: Set(key.id.as_uuid()),
        tenant_id: Set(key.tenant_id.as_uuid()),
        prefix: Set(key.prefix.clone()),
        secret_sha256: Set(key.secret_sha256.clone()),
        display_name: Set(key.display_name.clone()),
        scopes: Set(serde_json::to_value(&key.scopes).map_err(Error::internal)?),
        create_time: Set(key.create_time),
        expire_time: Set(key.expire_time),
        revoke_time: Set(key.revoke_time),
        rotated_from: Set(key.rotated_from.map(|id| id.as_uuid())),
        // A new key has not been used yet.
        last_used_time: Set(None),
    })
}

fn from_model(row: api_key::Model) -> Result<ApiKey> {
    Ok(ApiKey {
        id: ApiKeyId::from_uuid(row.id),
        tenant_id: TenantId::from_uuid(row.tenant_id),
        prefix: row.prefix,
        secret_sha256: row.secret_sha256,
        display_name: row.display_name,
        scopes: serde_json::from_value(row.scopes).map_err(Error::internal)?,
        create_time: row.create_time,
        expire_time: row.expire_time,
        revoke_time: row.revoke_time,
        rotated_from: row.rotated_from.map(ApiKeyId::from_uuid),
        last_used_time: row.last_used_time,
    })
}
