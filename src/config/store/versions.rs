//! Configuration layer versions: `config_versions` for tenants' own layers
//! (tenant rows, under row-level security) and `config_layer_versions` for
//! the defaults and plan layers (global). Both tables have the same
//! columns but their key, so one set of queries serves both, with the table
//! and key chosen by the layer.
//!
//! A new version is written only while the layer's newest version is the
//! one the writer read; the primary key (layer, version) settles a race
//! between two writers of the same next version.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, InsertStatement, Order, Query, SelectStatement};
use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement, Value};
use serde_json::Map;

use crate::common::ids::TenantId;
use crate::config::change::ChangeSubject;
use crate::config::layered::{ConfigVersion, LayerHead, LayerRef};
use crate::error::{Error, Result};
use crate::store::audit::AuditRecord;
use crate::store::scope::Scope;
use crate::store::{Store, Txn};

/// Where a layer's versions live.
struct Place {
    /// The table.
    table: &'static str,
    /// Its key column.
    key: &'static str,
    /// The layer's key value.
    value: Value,
}

fn place(layer: &LayerRef) -> Place {
    match layer {
        LayerRef::Tenant(id) => Place {
            table: "config_versions",
            key: "tenant_id",
            value: id.as_uuid().into(),
        },
        LayerRef::Defaults => Place {
            table: "config_layer_versions",
            key: "layer",
            value: "defaults".into(),
        },
        LayerRef::Plan(plan) => Place {
            table: "config_layer_versions",
            key: "layer",
            value: format!("plan:{plan}").into(),
        },
    }
}

const COLUMNS: [&str; 7] = [
    "version",
    "document",
    "author",
    "comment",
    "request_id",
    "restored_version",
    "create_time",
];

/// Versions of `layer`, newest first.
fn select(layer: &LayerRef) -> SelectStatement {
    let place = place(layer);
    Query::select()
        .columns(COLUMNS.map(Alias::new))
        .from(Alias::new(place.table))
        .and_where(Expr::col(Alias::new(place.key)).eq(place.value))
        .order_by(Alias::new("version"), Order::Desc)
        .to_owned()
}

fn decode(layer: &LayerRef, row: &QueryResult) -> Result<ConfigVersion> {
    let document: String = row.try_get("", "document")?;
    let values: Map<String, serde_json::Value> =
        serde_json::from_str(&document).map_err(Error::internal)?;
    Ok(ConfigVersion {
        layer: layer.clone(),
        version: row.try_get("", "version")?,
        values,
        author: row.try_get("", "author")?,
        comment: row.try_get("", "comment")?,
        request_id: row.try_get("", "request_id")?,
        restored_version: row.try_get("", "restored_version")?,
        create_time: row.try_get::<DateTime<Utc>>("", "create_time")?,
    })
}

impl Store {
    async fn query_versions(
        &self,
        txn: &Txn,
        layer: &LayerRef,
        statement: &SelectStatement,
    ) -> Result<Vec<ConfigVersion>> {
        let rows = txn.query_all_raw(self.backend().build(statement)).await?;
        rows.iter().map(|row| decode(layer, row)).collect()
    }

    /// The first version `statement` finds of `layer`.
    async fn first_version(
        &self,
        txn: &Txn,
        layer: &LayerRef,
        statement: &SelectStatement,
    ) -> Result<Option<ConfigVersion>> {
        let found = self.query_versions(txn, layer, statement).await?;
        Ok(found.into_iter().next())
    }

    async fn newest(&self, txn: &Txn, layer: &LayerRef) -> Result<Option<ConfigVersion>> {
        let statement = select(layer).limit(1).to_owned();
        self.first_version(txn, layer, &statement).await
    }

    /// The head of each of `layers`, read in one transaction of `scope`:
    /// the version `head` selects of each (the first it finds).
    async fn heads(
        &self,
        scope: Scope,
        layers: &[LayerRef],
        head: impl Fn(&LayerRef) -> SelectStatement,
    ) -> Result<Vec<LayerHead>> {
        self.read_in(scope, async |txn| {
            let mut heads = Vec::with_capacity(layers.len());
            for layer in layers {
                let current = self.first_version(txn, layer, &head(layer)).await?;
                heads.push(LayerHead {
                    layer: layer.clone(),
                    current,
                });
            }
            Ok(heads)
        })
        .await
    }

    /// The newest version of each of `layers`, read in one transaction.
    pub async fn config_heads(&self, scope: Scope, layers: &[LayerRef]) -> Result<Vec<LayerHead>> {
        self.heads(scope, layers, |layer| select(layer).limit(1).to_owned())
            .await
    }

    /// The version of each of `layers` that was newest at `revision` of the
    /// change log, read in one transaction. Versions written before the log
    /// existed count as older than every revision.
    pub async fn config_heads_at(
        &self,
        scope: Scope,
        layers: &[LayerRef],
        revision: i64,
    ) -> Result<Vec<LayerHead>> {
        self.heads(scope, layers, |layer| {
            select(layer)
                .cond_where(
                    Expr::col(Alias::new("revision"))
                        .is_null()
                        .or(Expr::col(Alias::new("revision")).lte(revision)),
                )
                .limit(1)
                .to_owned()
        })
        .await
    }

    /// Version `version` of `layer`.
    pub async fn config_version(
        &self,
        scope: Scope,
        layer: &LayerRef,
        version: i64,
    ) -> Result<Option<ConfigVersion>> {
        let statement = select(layer)
            .and_where(Expr::col(Alias::new("version")).eq(version))
            .to_owned();
        let found = self.read_versions(scope, layer, &statement).await?;
        Ok(found.into_iter().next())
    }

    /// Up to `limit` versions of `layer` older than `before`, newest first.
    pub async fn list_config_versions(
        &self,
        scope: Scope,
        layer: &LayerRef,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<ConfigVersion>> {
        let mut statement = select(layer).limit(limit).to_owned();
        if let Some(before) = before {
            statement.and_where(Expr::col(Alias::new("version")).lt(before));
        }
        self.read_versions(scope, layer, &statement).await
    }

    /// The versions of `layer` that `statement` finds, read in a
    /// transaction of `scope`.
    async fn read_versions(
        &self,
        scope: Scope,
        layer: &LayerRef,
        statement: &SelectStatement,
    ) -> Result<Vec<ConfigVersion>> {
        self.read_in(scope, async |txn| {
            self.query_versions(txn, layer, statement).await
        })
        .await
    }

    /// Writes `next` as the new newest version of its layer, provided the
    /// newest is still `next.version - 1`, with `audit`. ABORTED when
    /// another change came first.
    pub async fn insert_config_version(
        &self,
        scope: Scope,
        next: &ConfigVersion,
        audit: AuditRecord,
    ) -> Result<()> {
        self.write_in(scope, audit, async |txn| {
            let newest = self.newest(txn, &next.layer).await?;
            if newest.as_ref().map_or(0, |found| found.version) != next.version - 1 {
                return Err(concurrent(&next.layer));
            }
            let subject = ChangeSubject::Layer(next.layer.clone());
            let revision = self.record_config_change(txn, &subject).await?;
            let statement = insert_statement(next, revision)?;
            match txn.execute_raw(self.backend().build(&statement)).await {
                Ok(_) => Ok(()),
                Err(error) => match Error::from(error) {
                    Error::AlreadyExists { .. } => Err(concurrent(&next.layer)),
                    other => Err(other),
                },
            }
        })
        .await
    }
}

/// The insert of `next`, logged at `revision` of the change log.
fn insert_statement(next: &ConfigVersion, revision: i64) -> Result<InsertStatement> {
    let place = place(&next.layer);
    let document = serde_json::to_string(&next.values).map_err(Error::internal)?;
    let mut columns = vec![Alias::new(place.key)];
    columns.extend(COLUMNS.map(Alias::new));
    columns.push(Alias::new("revision"));
    Ok(Query::insert()
        .into_table(Alias::new(place.table))
        .columns(columns)
        .values([
            place.value.into(),
            next.version.into(),
            document.into(),
            next.author.clone().into(),
            next.comment.clone().into(),
            next.request_id.clone().into(),
            next.restored_version.into(),
            next.create_time.into(),
            revision.into(),
        ])
        .map_err(Error::internal)?
        .to_owned())
}

/// Every tenant not deleted (on `plan` only, when given) with its plan and
/// the newest version of its own layer.
const TENANT_HEADS: &str = "SELECT t.id AS tenant_id, t.plan AS plan, cv.version AS version, \
     cv.document AS document, cv.author AS author, cv.comment AS comment, \
     cv.request_id AS request_id, cv.restored_version AS restored_version, \
     cv.create_time AS create_time \
     FROM tenants t LEFT JOIN config_versions cv ON cv.tenant_id = t.id \
     AND cv.version = (SELECT MAX(v.version) FROM config_versions v WHERE v.tenant_id = t.id) \
     WHERE t.state <> 'DELETED'";

/// A tenant's plan and own layer, as the fleet-wide check reads them.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantLayer {
    /// The tenant.
    pub tenant_id: TenantId,
    /// Its plan.
    pub plan: String,
    /// Its own layer.
    pub head: LayerHead,
}

impl Store {
    /// Every tenant not deleted, on `plan` when given, with the newest
    /// version of its own layer: what a change of the defaults or of a plan
    /// layer must be checked against.
    pub async fn tenant_layers(
        &self,
        scope: Scope,
        plan: Option<&str>,
    ) -> Result<Vec<TenantLayer>> {
        let backend = self.backend();
        let statement = match plan {
            None => Statement::from_string(backend, TENANT_HEADS),
            Some(plan) => {
                let placeholder = if backend == DbBackend::Postgres {
                    "$1"
                } else {
                    "?"
                };
                Statement::from_sql_and_values(
                    backend,
                    format!("{TENANT_HEADS} AND t.plan = {placeholder}"),
                    [plan.into()],
                )
            }
        };
        let rows = self
            .read_in(scope, async |txn| Ok(txn.query_all_raw(statement).await?))
            .await?;
        rows.iter()
            .map(|row| {
                let tenant_id = TenantId::from_uuid(row.try_get("", "tenant_id")?);
                let layer = LayerRef::Tenant(tenant_id);
                let version: Option<i64> = row.try_get("", "version")?;
                let current = match version {
                    Some(_) => Some(decode(&layer, row)?),
                    None => None,
                };
                Ok(TenantLayer {
                    tenant_id,
                    plan: row.try_get("", "plan")?,
                    head: LayerHead { layer, current },
                })
            })
            .collect()
    }
}

fn concurrent(layer: &LayerRef) -> Error {
    Error::Aborted {
        reason: "CONCURRENT_CHANGE",
        message: format!(
            "{} was changed by another call at the same time; read it again",
            layer.resource_name()
        ),
    }
}
