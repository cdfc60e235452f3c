//! A SCHEMA tenant's own tables in and out of tenant archives.
//!
//! Export reads every table of the schema as the tenant's role, in
//! foreign-key order (referenced tables first), each row as
//! `row_to_json`. Import makes the role, the schema and the template up to
//! the archive's version with the same DDL functions as provisioning, then
//! loads the rows, all in ONE transaction on the owner's connection: until
//! [`SchemaImport::commit`] nothing of it exists for anyone, and dropping
//! it leaves no schema and no role. Table names from an archive are only
//! ever used after being matched against the tables the template made.

use std::collections::{BTreeMap, BTreeSet};

use sea_orm::{ConnectionTrait, DatabaseTransaction, TransactionTrait};

use crate::common::ids::TenantId;
use crate::error::{Error, Result};
use crate::store::postgres_statement;
use crate::tenancy::archive::corrupt;
use crate::tenancy::provisioning::names::TenantSchema;
use crate::tenancy::provisioning::{Provisioner, ddl};
use crate::tenancy::store::archive::insert_json_rows;

/// The version table is rebuilt by the template, never carried.
const VERSION_TABLE: &str = "tenantd_template_versions";

/// An import's open schema transaction.
pub struct SchemaImport {
    /// The owner's transaction holding the new role, schema and rows.
    txn: DatabaseTransaction,
    /// The schema being filled.
    schema: TenantSchema,
    /// The tables the template made, the only names rows may go to.
    tables: BTreeSet<String>,
}

/// `name` as a quoted SQL identifier.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The text columns of every row `sql` answers, with `schema` as `$1`
/// when given.
async fn strings(
    txn: &impl ConnectionTrait,
    sql: &str,
    schema: Option<&str>,
) -> Result<Vec<Vec<String>>> {
    let values: Vec<sea_orm::Value> = schema.into_iter().map(Into::into).collect();
    let rows = txn.query_all_raw(postgres_statement(sql, values)).await?;
    rows.iter()
        .map(|row| {
            (0..row.column_names().len())
                .map(|at| row.try_get_by_index::<String>(at).map_err(Error::from))
                .collect()
        })
        .collect()
}

/// The schema's tables (but the version table), referenced tables first;
/// ties, and tables of a reference cycle, in name order.
async fn tables_in_order(txn: &impl ConnectionTrait, schema: &str) -> Result<Vec<String>> {
    let names = strings(
        txn,
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 AND c.relkind = 'r' AND NOT c.relispartition",
        Some(schema),
    )
    .await?;
    let references = strings(
        txn,
        "SELECT c.relname::text, p.relname::text FROM pg_constraint k \
         JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE k.contype = 'f' AND n.nspname = $1 AND c.oid <> p.oid",
        Some(schema),
    )
    .await?;
    let mut parents: BTreeMap<String, BTreeSet<String>> = names
        .into_iter()
        .filter_map(|row| row.into_iter().next())
        .filter(|name| name != VERSION_TABLE)
        .map(|name| (name, BTreeSet::new()))
        .collect();
    for pair in references {
        if let [child, parent] = pair.as_slice()
            && let Some(set) = parents.get_mut(child)
        {
            set.insert(parent.clone());
        }
    }
    let mut ordered = Vec::with_capacity(parents.len());
    while !parents.is_empty() {
        let ready = parents
            .iter()
            .find(|(_, needs)| needs.iter().all(|parent| !parents.contains_key(parent)))
            .or_else(|| parents.iter().next())
            .map(|(name, _)| name.clone());
        let Some(name) = ready else { break };
        parents.remove(&name);
        ordered.push(name);
    }
    Ok(ordered)
}

impl Provisioner {
    /// Every table of the tenant's schema with its rows, in foreign-key
    /// order, read as the tenant's role in one transaction.
    pub async fn export_schema(&self, tenant_id: TenantId) -> Result<Vec<(String, Vec<String>)>> {
        let schema = TenantSchema::of(tenant_id);
        let name = schema.name();
        let txn = self.db.begin().await?;
        txn.execute_unprepared(&format!("SET LOCAL ROLE {name}"))
            .await?;
        let mut tables = Vec::new();
        for table in tables_in_order(&txn, &name).await? {
            let sql = format!(
                "SELECT row_to_json(t)::text FROM {name}.{} t ORDER BY 1",
                quoted(&table)
            );
            let rows = strings(&txn, &sql, None).await?;
            tables.push((table, rows.into_iter().flatten().collect()));
        }
        txn.rollback().await?;
        Ok(tables)
    }

    /// Opens an import of a schema for `tenant_id`: its role, schema and
    /// the template files up to `template_version`, not yet committed.
    pub async fn begin_import(
        &self,
        tenant_id: TenantId,
        template_version: i32,
    ) -> Result<SchemaImport> {
        if template_version > self.template.latest_version() || template_version < 0 {
            return Err(Error::failed_precondition(
                "TEMPLATE_VERSION_UNKNOWN",
                "TENANT_TEMPLATE",
                "chunk.manifest.template_version",
                format!(
                    "the archive's schema is at template version {template_version}; \
                     this tenantd's template goes up to {}",
                    self.template.latest_version()
                ),
            ));
        }
        let schema = TenantSchema::of(tenant_id);
        let txn = self.db.begin().await?;
        ddl::create_role(&txn, schema).await?;
        ddl::create_schema(&txn, schema).await?;
        let files = self.template.pending_after(0);
        for file in files
            .iter()
            .take_while(|file| file.version <= template_version)
        {
            ddl::apply_file(&txn, schema, file).await?;
        }
        let name = schema.name();
        txn.execute_unprepared(&format!(
            "SET LOCAL ROLE {name}; SET LOCAL search_path TO {name}"
        ))
        .await?;
        let tables = tables_in_order(&txn, &name).await?.into_iter().collect();
        Ok(SchemaImport {
            txn,
            schema,
            tables,
        })
    }
}

impl SchemaImport {
    /// Loads `rows` (a JSON array of row objects) into `table`, keeping
    /// the archive's values of identity columns too.
    pub async fn insert(&self, table: &str, rows: &serde_json::Value) -> Result<()> {
        if !self.tables.contains(table) {
            return Err(corrupt(format!(
                "it holds rows of table {table:?}, which the tenant template at its version does not make"
            )));
        }
        let target = format!("{}.{}", self.schema.name(), quoted(table));
        insert_json_rows(&self.txn, &target, "OVERRIDING SYSTEM VALUE", rows).await
    }

    /// Moves every identity and serial sequence past the loaded values, so
    /// the tenant's next insert does not collide, and commits.
    pub async fn commit(self) -> Result<()> {
        let name = self.schema.name();
        let columns = strings(
            &self.txn,
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = $1 \
               AND (is_identity = 'YES' OR column_default LIKE 'nextval(%')",
            Some(&name),
        )
        .await?;
        for pair in columns {
            let [table, column] = pair.as_slice() else {
                continue;
            };
            let target = format!("{name}.{}", quoted(table));
            let sql = format!(
                "SELECT setval(pg_get_serial_sequence($1, $2), m) \
                 FROM (SELECT max({}) AS m FROM {target}) AS loaded WHERE m IS NOT NULL",
                quoted(column)
            );
            let values = [target.clone().into(), column.clone().into()];
            self.txn
                .query_all_raw(postgres_statement(sql, values))
                .await?;
        }
        self.txn.commit().await.map_err(Error::from)
    }
}
