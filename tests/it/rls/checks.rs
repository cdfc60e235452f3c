//! What the application role may see and write under row-level security:
//! only the tenant it sets, table by table.

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, TransactionTrait};
use uuid::Uuid;

use super::{
    APP_LOGIN_ROLE, Scope, TENANT_TABLES, TenantTable, Tenants, execute, insert_row, seed,
    set_scope, sorted, statement, visible_in_scope, visible_tenants,
};
use crate::support::db::{Backend, TestDatabase, postgres_available};

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
