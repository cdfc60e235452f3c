//! Custom-domain rows.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use crate::common::ids::TenantId;
use crate::error::Result;
use crate::store::audit::AuditRecord;
use crate::store::entities::tenant_domain;
use crate::store::read::Paging;
use crate::store::scope::Scope;
use crate::store::write::ChangeRows;
use crate::store::{Store, Txn, insert_audit};
use crate::tenancy::custom_domain::{CustomDomain, DomainState};

impl Store {
    /// Inserts a custom domain with its audit record.
    pub async fn insert_domain(
        &self,
        scope: Scope,
        domain: &CustomDomain,
        audit: AuditRecord,
    ) -> Result<()> {
        self.insert_in(scope, audit, to_active_model(domain)).await
    }

    /// The domain `hostname` of `tenant_id`.
    pub async fn find_domain(
        &self,
        scope: Scope,
        tenant_id: TenantId,
        hostname: &str,
    ) -> Result<Option<CustomDomain>> {
        let select = tenant_domain::Entity::find()
            .filter(tenant_domain::Column::TenantId.eq(tenant_id.as_uuid()))
            .filter(tenant_domain::Column::Hostname.eq(hostname));
        self.find_one(scope, select, from_model).await
    }

    /// The VERIFIED domain `hostname`, whichever tenant holds it.
    pub async fn find_verified_domain(
        &self,
        scope: Scope,
        hostname: &str,
    ) -> Result<Option<CustomDomain>> {
        let select = tenant_domain::Entity::find()
            .filter(tenant_domain::Column::Hostname.eq(hostname))
            .filter(tenant_domain::Column::State.eq(DomainState::Verified.as_str()));
        self.find_one(scope, select, from_model).await
    }

    /// Other tenants' PENDING claims on `hostname`, at most `limit`.
    pub async fn find_rival_claims(
        &self,
        scope: Scope,
        hostname: &str,
        except: TenantId,
        limit: u64,
    ) -> Result<Vec<CustomDomain>> {
        let select = tenant_domain::Entity::find()
            .filter(tenant_domain::Column::Hostname.eq(hostname))
            .filter(tenant_domain::Column::State.eq(DomainState::Pending.as_str()))
            .filter(tenant_domain::Column::TenantId.ne(except.as_uuid()))
            .order_by_asc(tenant_domain::Column::Id)
            .limit(limit);
        self.find_all(scope, select, from_model).await
    }

    /// Replaces the expired claim `old` with the fresh claim `new`, with
    /// its audit record; `false` if `old` was gone or changed meanwhile.
    pub async fn renew_domain_claim(
        &self,
        scope: Scope,
        old: &CustomDomain,
        new: &CustomDomain,
        audit: AuditRecord,
    ) -> Result<bool> {
        self.write_if_changed(scope, audit, async |txn| {
            let deleted = delete_pending(txn, old.id).await?;
            if deleted > 0 {
                to_active_model(new).insert(txn).await?;
            }
            Ok(deleted)
        })
        .await
    }

    /// Domains of `tenant_id` after `after` (a hostname), by hostname.
    pub async fn list_domains(
        &self,
        scope: Scope,
        tenant_id: TenantId,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<CustomDomain>> {
        let select = tenant_domain::Entity::find()
            .filter(tenant_domain::Column::TenantId.eq(tenant_id.as_uuid()))
            .page(tenant_domain::Column::Hostname, after, limit);
        self.find_all(scope, select, from_model).await
    }

    /// Deletes a domain with its audit record; `false` if it was gone.
    pub async fn delete_domain(
        &self,
        scope: Scope,
        domain: &CustomDomain,
        audit: AuditRecord,
    ) -> Result<bool> {
        let delete = tenant_domain::Entity::delete_by_id(domain.id);
        self.exec_if_changed(scope, audit, delete).await
    }

    /// Stores a pending domain as verified, with its audit record, and
    /// releases the rival claims in the same transaction, each with its
    /// own audit record on its own tenant; `false` (and nothing written) if
    /// the domain was removed or verified meanwhile. A rival claim already
    /// gone is skipped.
    pub async fn mark_domain_verified(
        &self,
        scope: Scope,
        verified: &CustomDomain,
        audit: AuditRecord,
        released: Vec<(CustomDomain, AuditRecord)>,
    ) -> Result<bool> {
        let verify = tenant_domain::Entity::update_many()
            .set(tenant_domain::ActiveModel {
                state: Set(verified.state.as_str().to_owned()),
                verify_time: Set(verified.verify_time),
                ..Default::default()
            })
            .filter(tenant_domain::Column::Id.eq(verified.id))
            .filter(tenant_domain::Column::State.eq(DomainState::Pending.as_str()));
        self.write_if_changed(scope.clone(), audit, async |txn| {
            let updated = verify.rows_changed(txn).await?;
            if updated > 0 {
                self.release_in(txn, released).await?;
                // Back in the verifying tenant's scope for its audit record.
                self.enter(txn, scope).await?;
            }
            Ok(updated)
        })
        .await
    }

    /// PENDING claims made before `made_before`, at most `limit`, of every
    /// tenant.
    pub async fn claims_made_before(
        &self,
        scope: Scope,
        made_before: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<CustomDomain>> {
        let select = tenant_domain::Entity::find()
            .filter(tenant_domain::Column::State.eq(DomainState::Pending.as_str()))
            .filter(tenant_domain::Column::CreateTime.lt(made_before))
            .order_by_asc(tenant_domain::Column::Id)
            .limit(limit);
        self.find_all(scope, select, from_model).await
    }

    /// Removes the claims still PENDING, each with its audit record, in
    /// one transaction; how many were removed. Not announced on the change
    /// feed: only VERIFIED domains route requests, and these are PENDING.
    pub async fn release_claims(&self, released: Vec<(CustomDomain, AuditRecord)>) -> Result<u64> {
        self.write_unannounced(Scope::Platform, async |txn| {
            self.release_in(txn, released).await
        })
        .await
    }

    /// Removes each claim still PENDING in its own tenant's scope, writing
    /// its audit record; a claim already gone or verified is skipped.
    async fn release_in(
        &self,
        txn: &Txn,
        released: Vec<(CustomDomain, AuditRecord)>,
    ) -> Result<u64> {
        let mut count = 0;
        for (claim, release) in released {
            self.enter(txn, Scope::Tenant(claim.tenant_id)).await?;
            if delete_pending(txn, claim.id).await? > 0 {
                insert_audit(txn, release).await?;
                count += 1;
            }
        }
        Ok(count)
    }
}

/// Deletes the domain `id` if it is still PENDING; how many rows went.
async fn delete_pending(txn: &Txn, id: Uuid) -> Result<u64> {
    tenant_domain::Entity::delete_many()
        .filter(tenant_domain::Column::Id.eq(id))
        .filter(tenant_domain::Column::State.eq(DomainState::Pending.as_str()))
        .rows_changed(txn)
        .await
}

fn to_active_model(domain: &CustomDomain) -> tenant_domain::ActiveModel {
    tenant_domain::ActiveModel {
        id: Set(domain.id),
        tenant_id: Set(domain.tenant_id.as_uuid()),
        hostname: Set(domain.hostname.clone()),
        state: Set(domain.state.as_str().to_owned()),
        verification_token: Set(domain.verification_token.clone()),
        create_time: Set(domain.create_time),
        verify_time: Set(domain.verify_time),
    }
}

fn from_model(row: tenant_domain::Model) -> Result<CustomDomain> {
    Ok(CustomDomain {
        id: row.id,
        tenant_id: TenantId::from_uuid(row.tenant_id),
        hostname: row.hostname,
        state: DomainState::parse(&row.state),
        verification_token: row.verification_token,
        create_time: row.create_time,
        verify_time: row.verify_time,
        expire_time: None,
    })
}
