//! A tenant's control-plane rows as JSON, for tenant archives: read with
//! `row_to_json`, written back with `json_populate_recordset`, so columns
//! are matched by name and every value keeps its PostgreSQL type. Usage
//! (billing history) and the audit trail stay with the tenantd that
//! recorded them. PostgreSQL only.

use sea_orm::{ConnectionTrait, DbBackend};

use crate::common::ids::TenantId;
use crate::error::{Error, Result};
use crate::store::audit::AuditRecord;
use crate::store::scope::Scope;
use crate::store::{Store, postgres_statement};

/// The control-plane tables an archive carries, parents first, each with
/// the column naming the tenant.
pub const ARCHIVED_TABLES: &[(&str, &str)] = &[
    ("tenants", "id"),
    ("tenant_domains", "tenant_id"),
    ("api_keys", "tenant_id"),
    ("quota_overrides", "tenant_id"),
    ("config_versions", "tenant_id"),
    ("tenant_flag_overrides", "tenant_id"),
];

/// An import's open control-plane transaction.
pub struct ControlImport {
    /// The transaction, in the imported tenant's scope.
    txn: crate::store::txn::Txn,
}

fn postgres_only(store: &Store) -> Result<()> {
    if store.backend() != DbBackend::Postgres {
        return Err(Error::failed_precondition(
            "EXPORT_UNSUPPORTED",
            "DATABASE_BACKEND",
            "control-plane database",
            "tenant export and import need PostgreSQL",
        ));
    }
    Ok(())
}

impl Store {
    /// Every archived table's rows of `tenant_id`, in [`ARCHIVED_TABLES`]
    /// order, read in one transaction.
    pub async fn export_control_rows(
        &self,
        tenant_id: TenantId,
    ) -> Result<Vec<(&'static str, Vec<String>)>> {
        postgres_only(self)?;
        self.read_in(Scope::Tenant(tenant_id), async |txn| {
            let mut tables = Vec::with_capacity(ARCHIVED_TABLES.len());
            for (table, column) in ARCHIVED_TABLES {
                let sql = format!(
                    "SELECT row_to_json(t)::text AS row FROM {table} t WHERE {column} = $1 ORDER BY 1"
                );
                let rows = txn
                    .query_all_raw(postgres_statement(sql, [tenant_id.as_uuid().into()]))
                    .await?
                    .iter()
                    .map(|row| row.try_get::<String>("", "row"))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                tables.push((*table, rows));
            }
            Ok(tables)
        })
        .await
    }

    /// Opens the transaction an import writes `tenant_id`'s rows in.
    pub async fn begin_control_import(&self, tenant_id: TenantId) -> Result<ControlImport> {
        postgres_only(self)?;
        let txn = self.begin_in(Scope::Tenant(tenant_id)).await?;
        Ok(ControlImport { txn })
    }

    /// Commits an import with its audit record.
    pub async fn commit_control_import(
        &self,
        import: ControlImport,
        audit: AuditRecord,
    ) -> Result<()> {
        self.commit_with_audit(import.txn, audit).await
    }
}

impl ControlImport {
    /// Inserts `rows` (a JSON array of row objects) into `table`, which
    /// must be one of [`ARCHIVED_TABLES`].
    pub async fn insert(&self, table: &str, rows: &serde_json::Value) -> Result<()> {
        let Some((table, _)) = ARCHIVED_TABLES.iter().find(|(known, _)| *known == table) else {
            return Err(Error::internal(format!("{table} is not an archived table")));
        };
        insert_json_rows(&*self.txn, table, "", rows).await
    }
}

/// Inserts `rows` (a JSON array of row objects) into `target`, a table
/// name already checked or quoted, matching columns by name;
/// `overriding` goes between the table and the SELECT (e.g. `OVERRIDING
/// SYSTEM VALUE` to keep identity columns' values).
pub(crate) async fn insert_json_rows(
    txn: &impl ConnectionTrait,
    target: &str,
    overriding: &str,
    rows: &serde_json::Value,
) -> Result<()> {
    let sql = format!(
        "INSERT INTO {target} {overriding} SELECT * FROM json_populate_recordset(NULL::{target}, $1::json)"
    );
    txn.execute_raw(postgres_statement(sql, [rows.to_string().into()]))
        .await?;
    Ok(())
}
