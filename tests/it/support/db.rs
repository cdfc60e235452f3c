//! A fresh database per test: a SQLite file in the temp directory, or a
//! PostgreSQL database created on the server named by
//! `TENANTD_TEST_DATABASE_URL` (default: the local server's `test` database,
//! used only to create and drop per-test databases).
//!
//! On PostgreSQL a test database has two URLs, as in production: the owner's
//! (the admin user of `TENANTD_TEST_DATABASE_URL`), which runs migrations,
//! and the application's, a login role that is neither superuser nor owner,
//! so row-level security applies to what the server does.
//!
//! SCHEMA tenants' roles are cluster-wide and outlive a dropped database, so
//! dropping a test database drops the tenant roles made for it (tenantd
//! comments each with its database's name), and the start-up sweep drops
//! those whose database no longer exists (a crashed run's).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement, TransactionTrait};
use tokio::sync::OnceCell;

/// Where the control plane of a test server lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file.
    Sqlite,
    /// A database on the PostgreSQL server.
    Postgres,
}

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const DATABASE_PREFIX: &str = "tenantd_t_";
/// Databases of crashed earlier runs older than this are dropped.
const STALE_AFTER: Duration = Duration::from_secs(2 * 3600);
/// The group role migration m0003 grants the tables to.
const APP_GROUP_ROLE: &str = "tenantd_app";
/// The login role test servers connect as: a member of [`APP_GROUP_ROLE`].
const APP_LOGIN_ROLE: &str = "tenantd_test_app";
/// Its password, for servers that do not trust local connections.
const APP_LOGIN_PASSWORD: &str = "tenantd_test_app";
/// Serialises role set-up across concurrent test processes.
pub const ROLE_SETUP_LOCK: i64 = 0x7465_6e61_6e74_6401;

fn admin_url() -> String {
    std::env::var("TENANTD_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true" || value == "1")
}

/// A connection to the admin database as the admin user.
pub async fn admin() -> Result<DatabaseConnection, sea_orm::DbErr> {
    Database::connect(admin_url()).await
}

/// Whether PostgreSQL tests can run. Under `CI=true` an unreachable server
/// fails the test instead of skipping it.
pub async fn postgres_available() -> bool {
    static SWEPT: OnceCell<bool> = OnceCell::const_new();
    *SWEPT
        .get_or_init(|| async {
            match admin().await {
                Ok(connection) => {
                    sweep_stale_databases(&connection).await;
                    let _ = connection.close().await;
                    true
                }
                Err(error) if in_ci() => panic!("PostgreSQL is required under CI=true: {error}"),
                Err(error) => {
                    eprintln!(
                        "skipping PostgreSQL tests, no server at TENANTD_TEST_DATABASE_URL: {error}"
                    );
                    false
                }
            }
        })
        .await
}

/// Creates the application login role, once per test process. Roles are
/// cluster-wide and test processes start at once, so the set-up runs under an
/// advisory lock, and creating a role another session created meanwhile (a
/// migration creates `tenantd_app` too) is not an error.
async fn ensure_app_login_role(connection: &DatabaseConnection) {
    static READY: OnceCell<()> = OnceCell::const_new();
    READY
        .get_or_init(|| async {
            let txn = connection.begin().await.expect("begin the role set-up");
            let statements = [
                format!("SELECT pg_advisory_xact_lock({ROLE_SETUP_LOCK})"),
                create_role_if_missing(APP_GROUP_ROLE, "NOLOGIN"),
                create_role_if_missing(APP_LOGIN_ROLE, "LOGIN"),
                // Whatever an earlier run left, the role must not bypass
                // row-level security, or the RLS tests would prove nothing.
                format!(
                    "ALTER ROLE {APP_LOGIN_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE \
                     NOBYPASSRLS PASSWORD '{APP_LOGIN_PASSWORD}'"
                ),
                format!("GRANT {APP_GROUP_ROLE} TO {APP_LOGIN_ROLE}"),
            ];
            for statement in statements {
                txn.execute_unprepared(&statement)
                    .await
                    .unwrap_or_else(|error| panic!("set up roles: {statement}: {error}"));
            }
            txn.commit().await.expect("commit the role set-up");
        })
        .await;
}

/// A statement creating `role` unless it exists, safe against a concurrent
/// creator.
pub fn create_role_if_missing(role: &str, attributes: &str) -> String {
    format!(
        "DO $$ BEGIN \
           IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN \
             CREATE ROLE {role} {attributes}; \
           END IF; \
         EXCEPTION \
           WHEN duplicate_object THEN NULL; \
           WHEN unique_violation THEN NULL; \
         END $$"
    )
}

/// `url` with its user (and password) replaced by `userinfo`; host, port,
/// database and parameters are kept.
pub fn with_userinfo(url: &str, userinfo: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority
        .rsplit_once('@')
        .map(|(_, host)| host)
        .unwrap_or(authority);
    format!("{scheme}://{userinfo}@{host}{path}")
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

/// The tenant roles tenantd made for `database`, by their comment.
const TENANT_ROLES_OF: &str = "SELECT r.rolname FROM pg_roles r \
     JOIN pg_shdescription d ON d.objoid = r.oid AND d.classoid = 'pg_authid'::regclass \
     WHERE r.rolname LIKE 'tenant\\_%' AND d.description LIKE 'tenantd tenant % of database %'";

async fn drop_tenant_roles(connection: &DatabaseConnection, condition: &str) {
    let backend = connection.get_database_backend();
    let rows = connection
        .query_all_raw(Statement::from_string(
            backend,
            format!("{TENANT_ROLES_OF} AND {condition}"),
        ))
        .await
        .unwrap_or_default();
    for row in rows {
        if let Ok(role) = row.try_get::<String>("", "rolname") {
            let _ = connection
                .execute_unprepared(&format!("DROP ROLE IF EXISTS \"{role}\""))
                .await;
        }
    }
}

/// Drops tenant roles whose database is gone.
async fn sweep_orphan_tenant_roles(connection: &DatabaseConnection) {
    drop_tenant_roles(
        connection,
        "NOT EXISTS (SELECT FROM pg_database db \
           WHERE db.datname = split_part(d.description, ' of database ', 2))",
    )
    .await;
}

async fn sweep_stale_databases(connection: &DatabaseConnection) {
    let backend = connection.get_database_backend();
    let rows = connection
        .query_all_raw(Statement::from_string(
            backend,
            format!("SELECT datname FROM pg_database WHERE datname LIKE '{DATABASE_PREFIX}%'"),
        ))
        .await
        .unwrap_or_default();
    for row in rows {
        let Ok(name) = row.try_get::<String>("", "datname") else {
            continue;
        };
        let created = name
            .strip_prefix(DATABASE_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|seconds| seconds.parse::<u64>().ok())
            .unwrap_or(0);
        if unix_seconds().saturating_sub(created) > STALE_AFTER.as_secs() {
            let _ = connection
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await;
        }
    }
    sweep_orphan_tenant_roles(connection).await;
}

/// A database made for one test; [`TestDatabase::drop_database`] removes it.
#[derive(Debug)]
pub struct TestDatabase {
    /// The URL the server connects with: on PostgreSQL a login role that is
    /// neither superuser nor owner of the tables.
    pub url: String,
    /// The URL migrations run with: the owner of the database (a superuser
    /// on PostgreSQL); the same as `url` on SQLite.
    pub owner_url: String,
    /// What to remove afterwards.
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    File(std::path::PathBuf),
    Database(String),
}

impl TestDatabase {
    /// Creates an empty database on `backend`.
    pub async fn create(backend: Backend) -> Self {
        let unique = uuid::Uuid::new_v4().simple().to_string();
        match backend {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("tenantd-test-{unique}.db"));
                let url = format!("sqlite://{}?mode=rwc", path.display());
                Self {
                    owner_url: url.clone(),
                    url,
                    cleanup: Cleanup::File(path),
                }
            }
            Backend::Postgres => {
                let name = format!("{DATABASE_PREFIX}{}_{}", unix_seconds(), &unique[..12]);
                let connection = admin().await.expect("connect to PostgreSQL");
                ensure_app_login_role(&connection).await;
                connection
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("create a test database");
                let _ = connection.close().await;
                let base = admin_url();
                let server = base
                    .rsplit_once('/')
                    .map(|(server, _)| server)
                    .unwrap_or(&base);
                let owner_url = format!("{server}/{name}");
                Self {
                    url: with_userinfo(
                        &owner_url,
                        &format!("{APP_LOGIN_ROLE}:{APP_LOGIN_PASSWORD}"),
                    ),
                    owner_url,
                    cleanup: Cleanup::Database(name),
                }
            }
        }
    }

    /// Applies the migrations as the owner, for tests that need the tables
    /// without starting a server.
    pub async fn migrate_as_owner(&self) {
        let store = tenantd::store::Store::connect(&self.owner_url, &Default::default())
            .await
            .expect("connect to the test database as its owner");
        store.migrate().await.expect("migrate the test database");
        let _ = store.close().await;
    }

    /// Removes the database; failures only leave it for the next sweep.
    pub async fn drop_database(self) {
        match self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Database(name) => {
                if let Ok(connection) = admin().await {
                    let _ = connection
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .await;
                    // The database name is ours: letters, digits, `_`.
                    let mine = format!("split_part(d.description, ' of database ', 2) = '{name}'");
                    drop_tenant_roles(&connection, &mine).await;
                    let _ = connection.close().await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::with_userinfo;

    #[test]
    fn the_app_url_swaps_only_the_user() {
        assert_eq!(
            with_userinfo("postgres://postgres@127.0.0.1:5432/db", "app:pw"),
            "postgres://app:pw@127.0.0.1:5432/db"
        );
        assert_eq!(
            with_userinfo(
                "postgres://admin:s@cret@db.internal/db?sslmode=require",
                "app"
            ),
            "postgres://app@db.internal/db?sslmode=require"
        );
        assert_eq!(
            with_userinfo("postgres://localhost:5433/db", "app"),
            "postgres://app@localhost:5433/db"
        );
    }
}
