//! Lifecycle events: the transactional outbox every audited change writes
//! into, and the cursors of the sinks that publish from it.
//!
//! `events` holds one row per event, written in the transaction of the
//! change it reports, under a fleet-wide `sequence` taken from the counter
//! table of m0014: `config_revision` now keeps one row per ordered log
//! (id 1 the configuration change log, id 2 this one), and each writer
//! increments its log's row inside its transaction, so writers commit in
//! sequence order and a reader that has seen sequence `s` committed never
//! later finds a smaller one appear. A rolled-back change rolls back its
//! increment with its event, so the sequence has no gaps either.
//! `pruned_through` of row 2 is the newest sequence the log no longer holds.
//!
//! Rows are tenant rows, isolated like the tables of m0003 (a tenant sees
//! only its own events); rows without a tenant (a plan, a fleet-wide flag)
//! are the platform's. `id` is the event's CloudEvents id (a UUIDv7), unique.
//!
//! `event_cursors` keeps, per sink (`nats`, …), the newest sequence it
//! has delivered, so a restarted replica resumes where the fleet stopped.
//!
//! Both only add what an older release ignores (expand-then-contract).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Events {
    Table,
    Sequence,
    Id,
    TenantId,
    Type,
    Subject,
    Resource,
    Time,
    Data,
}

#[derive(DeriveIden)]
enum EventCursors {
    Table,
    Sink,
    Through,
    UpdateTime,
}

#[derive(DeriveIden)]
enum ConfigRevision {
    Table,
    Id,
    Revision,
    PrunedThrough,
}

/// The row of `config_revision` that counts events.
const EVENT_LOG: i32 = 2;
const TABLE: &str = "events";
const TENANT_INDEX: &str = "ix_events_tenant_sequence";
const ID_INDEX: &str = "ux_events_id";
const TIME_INDEX: &str = "ix_events_time";

/// The group role of m0003.
const APP_ROLE: &str = "tenantd_app";
/// Same as m0003: the session's tenant, NULL when unset or empty.
const CURRENT_TENANT: &str = "NULLIF(current_setting('tenantd.tenant_id', true), '')::uuid";
/// Same as m0003: whether the session acts for the platform.
const PLATFORM_SCOPE: &str = "current_setting('tenantd.platform', true) = 'on'";

fn postgres_statements() -> Vec<String> {
    let own_tenant = format!("tenant_id = {CURRENT_TENANT}");
    vec![
        format!("GRANT SELECT, INSERT, DELETE ON {TABLE} TO {APP_ROLE}"),
        format!("GRANT SELECT, INSERT, UPDATE ON event_cursors TO {APP_ROLE}"),
        format!("ALTER TABLE {TABLE} ENABLE ROW LEVEL SECURITY"),
        // Without FORCE the owner would bypass the policies.
        format!("ALTER TABLE {TABLE} FORCE ROW LEVEL SECURITY"),
        format!(
            "CREATE POLICY tenant_isolation ON {TABLE} \
             USING ({own_tenant}) WITH CHECK ({own_tenant})"
        ),
        format!(
            "CREATE POLICY platform_scope ON {TABLE} \
             USING ({PLATFORM_SCOPE}) WITH CHECK ({PLATFORM_SCOPE})"
        ),
    ]
}

fn events_table() -> TableCreateStatement {
    Table::create()
        .table(Events::Table)
        .col(
            ColumnDef::new(Events::Sequence)
                .big_integer()
                .not_null()
                .primary_key(),
        )
        .col(ColumnDef::new(Events::Id).uuid().not_null())
        .col(ColumnDef::new(Events::TenantId).uuid().null())
        .col(ColumnDef::new(Events::Type).text().not_null())
        .col(ColumnDef::new(Events::Subject).text().not_null())
        .col(ColumnDef::new(Events::Resource).text().not_null())
        .col(
            ColumnDef::new(Events::Time)
                .timestamp_with_time_zone()
                .not_null(),
        )
        .col(ColumnDef::new(Events::Data).json_binary().null())
        .to_owned()
}

fn cursors_table() -> TableCreateStatement {
    Table::create()
        .table(EventCursors::Table)
        .col(
            ColumnDef::new(EventCursors::Sink)
                .text()
                .not_null()
                .primary_key(),
        )
        .col(
            ColumnDef::new(EventCursors::Through)
                .big_integer()
                .not_null(),
        )
        .col(
            ColumnDef::new(EventCursors::UpdateTime)
                .timestamp_with_time_zone()
                .not_null(),
        )
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(events_table()).await?;
        manager.create_table(cursors_table()).await?;
        let indexes = [
            Index::create()
                .name(ID_INDEX)
                .table(Events::Table)
                .col(Events::Id)
                .unique()
                .to_owned(),
            Index::create()
                .name(TENANT_INDEX)
                .table(Events::Table)
                .col(Events::TenantId)
                .col(Events::Sequence)
                .to_owned(),
            Index::create()
                .name(TIME_INDEX)
                .table(Events::Table)
                .col(Events::Time)
                .to_owned(),
        ];
        for index in indexes {
            manager.create_index(index).await?;
        }
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(ConfigRevision::Table)
                    .columns([
                        ConfigRevision::Id,
                        ConfigRevision::Revision,
                        ConfigRevision::PrunedThrough,
                    ])
                    .values([EVENT_LOG.into(), 0.into(), 0.into()])
                    .map_err(|error| DbErr::Custom(error.to_string()))?
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let connection = manager.get_connection();
        for statement in postgres_statements() {
            connection.execute_unprepared(&statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .exec_stmt(
                Query::delete()
                    .from_table(ConfigRevision::Table)
                    .and_where(Expr::col(ConfigRevision::Id).eq(EVENT_LOG))
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(EventCursors::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Events::Table).to_owned())
            .await
    }
}
