//! Exporting a tenant to an [`Archive`] and importing one, under the same
//! or a new id and slug.
//!
//! An import verifies the whole archive before it writes anything, then
//! writes in two transactions held open together: the control-plane rows
//! (with the audit record) on the server's connection, and the schema,
//! role, template and data of a SCHEMA tenant on the owner's. The schema
//! commits first and the control plane last; should that last commit fail,
//! the schema and role are dropped again, so no failure leaves a tenant
//! half-imported. The control-plane rows are written first, so a tenant id,
//! slug, hostname or key that is taken here is refused (ALREADY_EXISTS)
//! before any DDL runs.

use serde_json::Value;

use crate::access::{PlatformScope, TenantScope};
use crate::common::ids::TenantId;
use crate::common::validate;
use crate::error::{Error, Result, error_chain};
use crate::store::audit::{AuditRecord, Origin};
use crate::tenancy::archive::{Archive, CONTROL_PREFIX, SCHEMA_PREFIX, Section, corrupt};
use crate::tenancy::isolation::IsolationModel;
use crate::tenancy::provision::system_origin;
use crate::tenancy::store::archive::ARCHIVED_TABLES;
use crate::tenancy::tenant::{Tenant, TenantState};
use crate::tenancy::tenants::Tenants;

/// What an import may change of the archived tenant.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// The id to import under; the archive's when `None`.
    pub tenant_id: Option<TenantId>,
    /// The slug to give the tenant; the archive's when `None`.
    pub slug: Option<String>,
}

impl Tenants {
    /// The archive of the scope's tenant: its control-plane rows and, for
    /// a SCHEMA tenant, every table of its schema.
    pub async fn export(&self, scope: &TenantScope) -> Result<Archive> {
        let tenant = self.get(scope).await?;
        if !matches!(tenant.state, TenantState::Active | TenantState::Suspended) {
            return Err(tenant.refused(
                "TENANT_NOT_EXPORTABLE",
                format!(
                    "only ACTIVE or SUSPENDED tenants can be exported; this one is {}",
                    tenant.state.as_str()
                ),
            ));
        }
        let mut sections: Vec<Section> = self
            .store
            .export_control_rows(tenant.id)
            .await?
            .into_iter()
            .map(|(table, rows)| Section {
                name: format!("{CONTROL_PREFIX}{table}"),
                rows,
            })
            .collect();
        if tenant.isolation == IsolationModel::Schema {
            let tables = self.provisioner()?.export_schema(tenant.id).await?;
            sections.extend(tables.into_iter().map(|(table, rows)| Section {
                name: format!("{SCHEMA_PREFIX}{table}"),
                rows,
            }));
        }
        let described = (
            tenant.id,
            tenant.slug.as_str(),
            tenant.isolation,
            tenant.template_version,
        );
        Ok(Archive::new(described, sections))
    }

    /// Restores `archive` as described in the module docs; answers the
    /// imported tenant.
    pub async fn import(
        &self,
        _platform: &PlatformScope,
        origin: &Origin,
        archive: Archive,
        options: ImportOptions,
    ) -> Result<Tenant> {
        archive.verify()?;
        let manifest = &archive.manifest;
        let tenant_id = options.tenant_id.unwrap_or(manifest.tenant_id);
        let slug = options.slug.unwrap_or_else(|| manifest.slug.clone());
        let mut violations = Vec::new();
        validate::slug(&slug, "slug", &mut violations);
        if !violations.is_empty() {
            return Err(Error::InvalidArgument(violations));
        }
        let (tables, tenant_row) = control_rows(&archive, tenant_id, &slug)?;
        let control = self.store.begin_control_import(tenant_id).await?;
        for (table, rows) in tables {
            if !rows.is_empty() {
                control.insert(table, &Value::Array(rows)).await?;
            }
        }
        let schema = manifest.isolation == IsolationModel::Schema;
        if schema {
            self.import_schema(&archive, tenant_id).await?;
        }
        let audit = AuditRecord::new(
            origin,
            "ImportTenant",
            tenant_id,
            tenant_id.resource_name(),
            None,
            Some(tenant_row),
        );
        if let Err(error) = self.store.commit_control_import(control, audit).await {
            if schema && let Err(undo) = self.provisioner()?.teardown(tenant_id).await {
                tracing::error!(tenant.id = %tenant_id, error = %error_chain(&undo), "dropping an unfinished import's schema failed");
            }
            return Err(error);
        }
        tracing::info!(tenant.id = %tenant_id, from = %manifest.tenant_id, "tenant imported");
        self.get(&TenantScope::new(tenant_id)).await
    }

    /// [`Self::export`] for `tenantd tenants export`, an operator command
    /// on the database itself.
    pub async fn export_from_command(&self, tenant_id: TenantId) -> Result<Archive> {
        self.export(&TenantScope::new(tenant_id)).await
    }

    /// [`Self::import`] for `tenantd tenants import`, an operator command
    /// on the database itself, audited as tenantd's own change.
    pub async fn import_from_command(
        &self,
        archive: Archive,
        options: ImportOptions,
    ) -> Result<Tenant> {
        let platform = PlatformScope::system();
        self.import(&platform, &system_origin(), archive, options)
            .await
    }

    /// Makes and commits the schema, role, template and data of a SCHEMA
    /// tenant's archive.
    async fn import_schema(&self, archive: &Archive, tenant_id: TenantId) -> Result<()> {
        let provisioner = self.provisioner()?;
        let import = provisioner
            .begin_import(tenant_id, archive.manifest.template_version)
            .await?;
        for section in &archive.sections {
            let Some(table) = section.name.strip_prefix(SCHEMA_PREFIX) else {
                continue;
            };
            if section.rows.is_empty() {
                continue;
            }
            let rows = section
                .rows
                .iter()
                .map(|row| parse_row(&section.name, row))
                .collect::<Result<Vec<_>>>()?;
            import.insert(table, &Value::Array(rows)).await?;
        }
        import.commit().await
    }
}

/// The archive's one tenants row, which must agree with the manifest on
/// what an import makes (a schema or none, at which template version) and
/// be ACTIVE or SUSPENDED, as exports are: a PROVISIONING, FAILED or
/// DELETED row would hand the reconciler or the purge a tenant it did not
/// make.
fn the_tenant_row(
    rows: &[Value],
    isolation: IsolationModel,
    template_version: i32,
) -> Result<Value> {
    let [row] = rows else {
        return Err(corrupt("it must hold exactly one tenants row"));
    };
    let state = row.get("state").and_then(Value::as_str);
    let exportable = [TenantState::Active, TenantState::Suspended]
        .iter()
        .any(|allowed| state == Some(allowed.as_str()));
    if !exportable {
        return Err(corrupt("its tenant is neither ACTIVE nor SUSPENDED"));
    }
    let agrees = row.get("isolation").and_then(Value::as_str) == Some(isolation.as_str())
        && row.get("template_version").and_then(Value::as_i64) == Some(i64::from(template_version));
    if !agrees {
        return Err(corrupt(
            "its tenants row and manifest disagree on the isolation model or template version",
        ));
    }
    Ok(row.clone())
}

/// Rows to insert, by table.
pub type TableRows = Vec<(&'static str, Vec<Value>)>;

/// The control-plane rows a verified `archive` restores as `tenant_id`
/// named `slug`, by table in [`ARCHIVED_TABLES`] order, and its tenants
/// row. Every row is read and checked; nothing is written.
pub fn control_rows(
    archive: &Archive,
    tenant_id: TenantId,
    slug: &str,
) -> Result<(TableRows, Value)> {
    let manifest = &archive.manifest;
    let mut tenant_row = Value::Null;
    let mut tables = Vec::with_capacity(ARCHIVED_TABLES.len());
    for (table, column) in ARCHIVED_TABLES {
        let rows = rewritten_rows(archive, table, column, tenant_id, slug)?;
        if *table == "tenants" {
            tenant_row = the_tenant_row(&rows, manifest.isolation, manifest.template_version)?;
        }
        tables.push((*table, rows));
    }
    Ok((tables, tenant_row))
}

/// One archived row as a JSON object.
fn parse_row(section: &str, row: &str) -> Result<Value> {
    match serde_json::from_str::<Value>(row) {
        Ok(value @ Value::Object(_)) => Ok(value),
        _ => Err(corrupt(format!(
            "a row of section {section} is not a JSON object"
        ))),
    }
}

/// The rows of control-plane `table`, moved to `tenant_id` (in `column`)
/// and, for the tenant itself, to `slug`.
fn rewritten_rows(
    archive: &Archive,
    table: &str,
    column: &str,
    tenant_id: TenantId,
    slug: &str,
) -> Result<Vec<Value>> {
    let section = format!("{CONTROL_PREFIX}{table}");
    archive
        .rows(&section)
        .iter()
        .map(|row| {
            let mut value = parse_row(&section, row)?;
            if let Value::Object(fields) = &mut value {
                fields.insert(column.to_owned(), Value::String(tenant_id.to_string()));
                if table == "tenants" {
                    fields.insert("slug".to_owned(), Value::String(slug.to_owned()));
                }
            }
            Ok(value)
        })
        .collect()
}
