//! The `tenant_batch` row-level security policy of `usage_events`
//! (PostgreSQL only): a transaction listing tenants in `tenantd.tenant_ids`,
//! as ingestion's does for a batch of many tenants, reads and writes the
//! rows of the listed tenants and of no other; with nothing listed it
//! reaches none. Like `rls.rs`, this talks SQL as the application role:
//! it checks the database's guarantee, whatever the server's queries are.

use sea_orm::{
    ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait,
};
use uuid::Uuid;

use crate::support::db::{Backend, TestDatabase, postgres_available};

/// Inserts one event of each of `tenants` in one statement, in a
/// transaction that lists `listed` (nothing is set when `None`).
async fn insert_events(
    connection: &DatabaseConnection,
    listed: Option<&[Uuid]>,
    tenants: &[Uuid],
) -> Result<(), DbErr> {
    let txn = connection.begin().await?;
    if let Some(listed) = listed {
        let listed: Vec<String> = listed.iter().map(Uuid::to_string).collect();
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT set_config('tenantd.tenant_ids', $1, true)",
            [listed.join(",").into()],
        ))
        .await?;
    }
    let rows: Vec<String> = tenants
        .iter()
        .map(|tenant| {
            format!(
                "('{tenant}', '{}', 'm', 1, now(), '2026-12-01', '{{}}', NULL, now())",
                Uuid::new_v4()
            )
        })
        .collect();
    txn.execute_unprepared(&format!(
        "INSERT INTO usage_events (tenant_id, event_id, metric, quantity, occurred_time, day, \
         dimensions, unique_value, ingest_time) VALUES {}",
        rows.join(",")
    ))
    .await?;
    txn.commit().await
}

/// The tenants of the events a transaction listing `listed` sees, sorted
/// and deduplicated.
async fn visible(connection: &DatabaseConnection, listed: Option<&str>) -> Vec<Uuid> {
    let txn = connection.begin().await.expect("begin");
    if let Some(listed) = listed {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT set_config('tenantd.tenant_ids', $1, true)",
            [listed.into()],
        ))
        .await
        .expect("list the tenants");
    }
    let rows = txn
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT DISTINCT tenant_id FROM usage_events ORDER BY tenant_id",
        ))
        .await
        .expect("read events");
    txn.commit().await.expect("commit");
    rows.iter()
        .map(|row| row.try_get("", "tenant_id").expect("tenant_id"))
        .collect()
}

fn is_policy_violation(result: Result<(), DbErr>) -> bool {
    result.is_err_and(|error| error.to_string().contains("row-level security"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_transactions_reach_only_the_tenants_they_list() {
    if !postgres_available().await {
        return;
    }
    let database = TestDatabase::create(Backend::Postgres).await;
    database.migrate_as_owner().await;
    let app = Database::connect(&database.url)
        .await
        .expect("connect as the application role");
    let mut ids = [Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4()];
    ids.sort();
    let [a, b, c] = ids;

    insert_events(&app, Some(&[a, c]), &[a, c, a])
        .await
        .expect("listed tenants' events are written");
    assert!(
        is_policy_violation(insert_events(&app, Some(&[a, c]), &[a, b]).await),
        "one event of an unlisted tenant refuses the whole statement"
    );
    assert!(
        is_policy_violation(insert_events(&app, Some(&[]), &[a]).await),
        "an empty list admits nothing"
    );
    assert!(
        is_policy_violation(insert_events(&app, None, &[a]).await),
        "no list admits nothing"
    );
    insert_events(&app, Some(&[b]), &[b])
        .await
        .expect("tenant B's own batch");

    let listed = |tenants: &[Uuid]| {
        tenants
            .iter()
            .map(Uuid::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    assert_eq!(visible(&app, Some(&listed(&[a, c]))).await, [a, c]);
    assert_eq!(visible(&app, Some(&listed(&[b]))).await, [b]);
    assert_eq!(visible(&app, Some(&listed(&[a, b, c]))).await, [a, b, c]);
    assert_eq!(visible(&app, Some("")).await, Vec::<Uuid>::new());
    assert_eq!(visible(&app, None).await, Vec::<Uuid>::new());

    let _ = app.close().await;
    database.drop_database().await;
}
