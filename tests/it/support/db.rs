//! A fresh database per test: a SQLite file in the temp directory, or a
//! PostgreSQL database created on the server named by
//! `TENANTD_TEST_DATABASE_URL` (default: the local server's `test` database,
//! used only to create and drop per-test databases).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
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

fn admin_url() -> String {
    std::env::var("TENANTD_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true" || value == "1")
}

async fn admin() -> Result<DatabaseConnection, sea_orm::DbErr> {
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

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
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
}

/// A database made for one test; [`TestDatabase::drop_database`] removes it.
#[derive(Debug)]
pub struct TestDatabase {
    /// The URL the server connects with.
    pub url: String,
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
                Self {
                    url: format!("sqlite://{}?mode=rwc", path.display()),
                    cleanup: Cleanup::File(path),
                }
            }
            Backend::Postgres => {
                let name = format!("{DATABASE_PREFIX}{}_{}", unix_seconds(), &unique[..12]);
                let connection = admin().await.expect("connect to PostgreSQL");
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
                Self {
                    url: format!("{server}/{name}"),
                    cleanup: Cleanup::Database(name),
                }
            }
        }
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
                    let _ = connection.close().await;
                }
            }
        }
    }
}
