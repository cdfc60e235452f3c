//! Row-level security, the backstop behind every tenant filter (PostgreSQL
//! only). Connected as the application role, a query that forgets its tenant
//! filter sees the rows of the tenant named by `tenantd.tenant_id` and no
//! other; with no tenant set it sees none; writes cannot reach another
//! tenant; with `tenantd.platform = 'on'` it sees every row.
//!
//! These tests talk SQL directly rather than through the server: they check
//! the database's guarantee, whatever the server's queries look like.

mod checks;

use sea_orm::{
    ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, ExecResult, Statement,
    TransactionTrait, Value,
};
use uuid::Uuid;

/// A table holding tenant-owned rows.
struct TenantTable {
    name: &'static str,
    /// The column naming the row's tenant.
    tenant_column: &'static str,
    /// A text column the update check rewrites.
    text_column: &'static str,
}

const TENANT_TABLES: [TenantTable; 8] = [
    TenantTable {
        name: "tenants",
        tenant_column: "id",
        text_column: "display_name",
    },
    TenantTable {
        name: "tenant_domains",
        tenant_column: "tenant_id",
        text_column: "verification_token",
    },
    TenantTable {
        name: "api_keys",
        tenant_column: "tenant_id",
        text_column: "display_name",
    },
    TenantTable {
        name: "audit_events",
        tenant_column: "tenant_id",
        text_column: "actor",
    },
    TenantTable {
        name: "tenant_flag_overrides",
        tenant_column: "tenant_id",
        text_column: "document",
    },
    TenantTable {
        name: "usage_unique_values",
        tenant_column: "tenant_id",
        text_column: "value",
    },
    TenantTable {
        name: "tenant_call_minutes",
        tenant_column: "tenant_id",
        text_column: "replica",
    },
    TenantTable {
        name: "quota_threshold_crossings",
        tenant_column: "tenant_id",
        text_column: "period",
    },
];

const APP_LOGIN_ROLE: &str = "tenantd_test_app";

/// The two tenants every table holds one row of.
#[derive(Clone, Copy)]
struct Tenants {
    a: Uuid,
    b: Uuid,
}

/// What the application role may do to the table, if anything.
enum Scope {
    Nothing,
    Tenant(Uuid),
    Platform,
}

fn statement(sql: &str, values: impl IntoIterator<Item = Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

async fn execute(
    connection: &impl ConnectionTrait,
    sql: &str,
    values: impl IntoIterator<Item = Value>,
) -> Result<ExecResult, DbErr> {
    connection.execute_raw(statement(sql, values)).await
}

async fn set_scope(connection: &impl ConnectionTrait, scope: &Scope) {
    let (name, value) = match scope {
        Scope::Nothing => return,
        Scope::Tenant(tenant) => ("tenantd.tenant_id", tenant.to_string()),
        Scope::Platform => ("tenantd.platform", "on".to_owned()),
    };
    // `true`: local to the transaction, as the server sets it.
    execute(
        connection,
        "SELECT set_config($1, $2, true)",
        [name.into(), value.into()],
    )
    .await
    .expect("set the scope of the transaction");
}

/// The tenant of every row of `table` the connection sees, sorted.
async fn visible_tenants(
    connection: &impl ConnectionTrait,
    table: &TenantTable,
) -> Vec<Option<Uuid>> {
    let sql = format!(
        "SELECT {} AS tenant FROM {}",
        table.tenant_column, table.name
    );
    let rows = connection
        .query_all_raw(statement(&sql, []))
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"));
    let mut tenants: Vec<Option<Uuid>> = rows
        .iter()
        .map(|row| row.try_get("", "tenant").expect("tenant column"))
        .collect();
    tenants.sort();
    tenants
}

/// What the application role sees of `table` in a transaction of `scope`.
async fn visible_in_scope(
    app: &DatabaseConnection,
    table: &TenantTable,
    scope: Scope,
) -> Vec<Option<Uuid>> {
    let txn = app.begin().await.expect("begin");
    set_scope(&txn, &scope).await;
    let tenants = visible_tenants(&txn, table).await;
    txn.commit().await.expect("commit");
    tenants
}

fn sorted(mut tenants: Vec<Option<Uuid>>) -> Vec<Option<Uuid>> {
    tenants.sort();
    tenants
}

/// Inserts one row of `tenant` into `table`, with fresh ids.
async fn insert_row(
    connection: &impl ConnectionTrait,
    table: &TenantTable,
    tenant: Uuid,
) -> Result<ExecResult, DbErr> {
    let id = Uuid::new_v4();
    let unique = id.simple().to_string();
    match table.name {
        "tenants" => {
            execute(
                connection,
                "INSERT INTO tenants (id, slug, display_name, state, state_reason, plan, labels, \
                 revision, create_time, update_time) \
                 VALUES ($1, $2, 'Tenant', 'ACTIVE', '', 'free', '{}'::jsonb, 1, now(), now())",
                [tenant.into(), format!("t-{unique}").into()],
            )
            .await
        }
        "tenant_domains" => {
            execute(
                connection,
                "INSERT INTO tenant_domains (id, tenant_id, hostname, state, verification_token, \
                 create_time) VALUES ($1, $2, $3, 'PENDING', 'token', now())",
                [
                    id.into(),
                    tenant.into(),
                    format!("{unique}.example.com").into(),
                ],
            )
            .await
        }
        "api_keys" => {
            execute(
                connection,
                "INSERT INTO api_keys (id, tenant_id, prefix, secret_sha256, display_name, scopes, \
                 create_time) VALUES ($1, $2, $3, 'hash', 'key', '[]'::jsonb, now())",
                [id.into(), tenant.into(), format!("tdk_{unique}").into()],
            )
            .await
        }
        "tenant_flag_overrides" => {
            execute(
                connection,
                "INSERT INTO tenant_flag_overrides (tenant_id, flag, document, revision, \
                 create_time, update_time) VALUES ($1, $2, '{}', 1, now(), now())",
                [tenant.into(), format!("f-{unique}").into()],
            )
            .await
        }
        "usage_unique_values" => {
            execute(
                connection,
                "INSERT INTO usage_unique_values (tenant_id, metric, day, value) \
                 VALUES ($1, 'users', '2026-01-01', $2)",
                [tenant.into(), format!("u-{unique}").into()],
            )
            .await
        }
        "tenant_call_minutes" => {
            execute(
                connection,
                "INSERT INTO tenant_call_minutes (tenant_id, minute, replica, requests, failures, \
                 latency_sum_micros, buckets) VALUES ($1, 29000000, $2, 1, 0, 900, '[1]')",
                [tenant.into(), format!("r-{unique}").into()],
            )
            .await
        }
        "quota_threshold_crossings" => {
            execute(
                connection,
                "INSERT INTO quota_threshold_crossings (tenant_id, quota, period, \
                 threshold_percent, used, quota_limit, create_time) \
                 VALUES ($1, $2, 'd20261207', 80, 8, 10, now())",
                [tenant.into(), format!("q-{unique}").into()],
            )
            .await
        }
        _ => insert_audit_event(connection, Some(tenant)).await,
    }
}

async fn insert_audit_event(
    connection: &impl ConnectionTrait,
    tenant: Option<Uuid>,
) -> Result<ExecResult, DbErr> {
    execute(
        connection,
        "INSERT INTO audit_events (id, tenant_id, actor, action, resource, request_id, \
         create_time) VALUES ($1, $2, 'test', 'Seed', 'tenants/x', 'request', now())",
        [Uuid::new_v4().into(), tenant.into()],
    )
    .await
}

/// As the owner, one row per tenant in every table, plus a platform audit
/// event (no tenant), which only the platform scope may see.
async fn seed(owner_url: &str, tenants: Tenants) {
    let owner = Database::connect(owner_url)
        .await
        .expect("connect as the owner");
    let txn = owner.begin().await.expect("begin");
    // Security is forced, so an owner that is not a superuser is filtered
    // too; a superuser bypasses it anyway.
    set_scope(&txn, &Scope::Platform).await;
    for tenant in [tenants.a, tenants.b] {
        for table in &TENANT_TABLES {
            insert_row(&txn, table, tenant)
                .await
                .unwrap_or_else(|error| panic!("seed {}: {error}", table.name));
        }
    }
    insert_audit_event(&txn, None)
        .await
        .expect("seed a platform audit event");
    txn.commit().await.expect("commit the seed");
    let _ = owner.close().await;
}
