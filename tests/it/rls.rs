//! Row-level security, the backstop behind every tenant filter (PostgreSQL
//! only). Connected as the application role, a query that forgets its tenant
//! filter sees the rows of the tenant named by `tenantd.tenant_id` and no
//! other; with no tenant set it sees none; writes cannot reach another
//! tenant; with `tenantd.platform = 'on'` it sees every row.
//!
//! These tests talk SQL directly rather than through the server: they check
//! the database's guarantee, whatever the server's queries look like.

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, ExecResult,
    Statement, TransactionTrait, Value,
};
use uuid::Uuid;

use crate::support::db::{Backend, TestDatabase, postgres_available};

/// A table holding tenant-owned rows.
struct TenantTable {
    name: &'static str,
    /// The column naming the row's tenant.
    tenant_column: &'static str,
    /// A text column the update check rewrites.
    text_column: &'static str,
}

const TENANT_TABLES: [TenantTable; 6] = [
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

async fn query_one_bool(connection: &impl ConnectionTrait, sql: &str, column: &str) -> bool {
    connection
        .query_one_raw(statement(sql, []))
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
        .unwrap_or_else(|| panic!("{sql}: no row"))
        .try_get("", column)
        .unwrap_or_else(|error| panic!("{sql}: {column}: {error}"))
}

/// The connection is the test login role, which cannot bypass row-level
/// security, does not own `table`, and on which security is on and forced.
async fn assert_plain_app_role(app: &DatabaseConnection, table: &TenantTable) {
    let user: String = app
        .query_one_raw(statement("SELECT current_user::text AS name", []))
        .await
        .expect("current_user")
        .expect("a row")
        .try_get("", "name")
        .expect("name");
    assert_eq!(user, APP_LOGIN_ROLE);
    assert!(
        !query_one_bool(
            app,
            "SELECT rolsuper OR rolbypassrls AS bypasses FROM pg_roles \
             WHERE rolname = current_user",
            "bypasses",
        )
        .await,
        "the application role must be subject to row-level security"
    );
    let owner_sql = format!(
        "SELECT tableowner = current_user AS owns FROM pg_tables \
         WHERE schemaname = 'public' AND tablename = '{}'",
        table.name
    );
    assert!(
        !query_one_bool(app, &owner_sql, "owns").await,
        "{} must not be owned by the application role",
        table.name
    );
    let forced_sql = format!(
        "SELECT relrowsecurity AND relforcerowsecurity AS forced FROM pg_class \
         WHERE oid = 'public.{}'::regclass",
        table.name
    );
    assert!(
        query_one_bool(app, &forced_sql, "forced").await,
        "{} must have row-level security enabled and forced",
        table.name
    );
}

/// Writes as tenant A: a row of B is refused, and an update or delete with
/// no filter touches A's row alone. Rolled back, so the seed stays.
async fn assert_writes_stay_in_tenant(
    app: &DatabaseConnection,
    table: &TenantTable,
    tenants: Tenants,
) {
    let txn = app.begin().await.expect("begin");
    set_scope(&txn, &Scope::Tenant(tenants.a)).await;
    // For `tenants` the row's id is its tenant: a fresh one stands for
    // "not A" without colliding with B's primary key.
    let other = if table.name == "tenants" {
        Uuid::new_v4()
    } else {
        tenants.b
    };
    let refused = insert_row(&txn, table, other).await;
    let error = refused
        .err()
        .unwrap_or_else(|| panic!("{}: inserting another tenant's row succeeded", table.name));
    assert!(
        error.to_string().contains("row-level security policy"),
        "{}: {error}",
        table.name
    );
    txn.rollback().await.expect("rollback");

    let txn = app.begin().await.expect("begin");
    set_scope(&txn, &Scope::Tenant(tenants.a)).await;
    let sql = format!(
        "UPDATE {} SET {} = 'touched'",
        table.name, table.text_column
    );
    let updated = execute(&txn, &sql, []).await.expect("update as A");
    assert_eq!(updated.rows_affected(), 1, "{sql}");
    set_scope(&txn, &Scope::Platform).await;
    let touched_sql = format!(
        "SELECT {} AS tenant FROM {} WHERE {} = 'touched'",
        table.tenant_column, table.name, table.text_column
    );
    let touched: Vec<Option<Uuid>> = txn
        .query_all_raw(statement(&touched_sql, []))
        .await
        .expect("read the updated rows")
        .iter()
        .map(|row| row.try_get("", "tenant").expect("tenant"))
        .collect();
    assert_eq!(touched, [Some(tenants.a)], "{sql}");
    txn.rollback().await.expect("rollback");

    let txn = app.begin().await.expect("begin");
    set_scope(&txn, &Scope::Tenant(tenants.a)).await;
    let sql = format!("DELETE FROM {}", table.name);
    let deleted = execute(&txn, &sql, []).await.expect("delete as A");
    assert_eq!(deleted.rows_affected(), 1, "{sql}");
    set_scope(&txn, &Scope::Platform).await;
    let mut remaining = vec![Some(tenants.b)];
    if table.name == "audit_events" {
        remaining.push(None);
    }
    assert_eq!(
        visible_tenants(&txn, table).await,
        sorted(remaining),
        "{sql}"
    );
    txn.rollback().await.expect("rollback");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_application_role_sees_and_writes_only_the_tenant_it_sets() {
    if !postgres_available().await {
        return;
    }
    let database = TestDatabase::create(Backend::Postgres).await;
    database.migrate_as_owner().await;
    let tenants = Tenants {
        a: Uuid::new_v4(),
        b: Uuid::new_v4(),
    };
    seed(&database.owner_url, tenants).await;

    // One connection, so a setting made local to an ended transaction is
    // seen afterwards as `''` rather than as never set.
    let mut options = ConnectOptions::new(database.url.clone());
    options.max_connections(1).min_connections(1);
    let app = Database::connect(options)
        .await
        .expect("connect as the application role");

    for table in &TENANT_TABLES {
        assert_plain_app_role(&app, table).await;

        assert_eq!(
            visible_in_scope(&app, table, Scope::Nothing).await,
            Vec::<Option<Uuid>>::new(),
            "{}: no tenant set in this session",
            table.name
        );
        assert_eq!(
            visible_in_scope(&app, table, Scope::Tenant(tenants.a)).await,
            [Some(tenants.a)],
            "{}: tenant A",
            table.name
        );
        assert_eq!(
            visible_in_scope(&app, table, Scope::Tenant(tenants.b)).await,
            [Some(tenants.b)],
            "{}: tenant B",
            table.name
        );
        let leftover: Option<String> = app
            .query_one_raw(statement(
                "SELECT current_setting('tenantd.tenant_id', true) AS value",
                [],
            ))
            .await
            .expect("read the setting")
            .expect("a row")
            .try_get("", "value")
            .expect("value");
        assert_eq!(leftover.as_deref(), Some(""), "the case NULLIF is for");
        assert_eq!(
            visible_in_scope(&app, table, Scope::Nothing).await,
            Vec::<Option<Uuid>>::new(),
            "{}: tenant setting left empty by an ended transaction",
            table.name
        );

        let mut everyone = vec![Some(tenants.a), Some(tenants.b)];
        if table.name == "audit_events" {
            everyone.push(None);
        }
        assert_eq!(
            visible_in_scope(&app, table, Scope::Platform).await,
            sorted(everyone),
            "{}: platform scope",
            table.name
        );

        assert_writes_stay_in_tenant(&app, table, tenants).await;
    }

    // Not tenant-owned: reachable with no scope at all.
    execute(
        &app,
        "INSERT INTO idempotency_keys (scope, request_id, fingerprint, resource, create_time) \
         VALUES ('test', $1, 'f', 'r', now())",
        [Uuid::new_v4().into()],
    )
    .await
    .expect("idempotency keys need no tenant");
    // The server checks for pending migrations as this role.
    execute(&app, "SELECT version FROM seaql_migrations", [])
        .await
        .expect("the application role reads the migration table");

    let _ = app.close().await;
    database.drop_database().await;
}
