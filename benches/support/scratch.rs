//! Scratch stores for one measurement, removed when dropped (also when the
//! bench panics): an SQLite file, a directory, or either store a bench
//! may be asked to run on.

use std::path::PathBuf;

use tenantd::settings::Config;

use super::{BenchDatabase, with_tokens};

/// A temporary SQLite file, `tenantd-bench-{name}-{uuid}.db`.
pub struct SqliteFile(PathBuf);

impl SqliteFile {
    /// A new file name under the temporary directory (SQLite creates it).
    pub fn new(name: &str) -> Self {
        Self(std::env::temp_dir().join(format!("tenantd-bench-{name}-{}.db", uuid::Uuid::new_v4())))
    }

    /// Server settings for it, with the bench tokens.
    pub fn config(&self) -> Config {
        with_tokens(Config::for_database(format!(
            "sqlite://{}?mode=rwc",
            self.0.display()
        )))
    }
}

impl Drop for SqliteFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A temporary directory, `tenantd-bench-{pid}-{name}`.
pub struct WorkDir(pub PathBuf);

impl WorkDir {
    /// Creates it.
    pub fn create(name: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("tenantd-bench-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&path).expect("create the bench directory");
        Self(path)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh store for one measurement: an SQLite file, or a PostgreSQL
/// database.
pub enum BenchStore {
    /// An SQLite file.
    Sqlite(SqliteFile),
    /// A PostgreSQL database on the server of the admin URL it was made with.
    Postgres(BenchDatabase),
}

impl BenchStore {
    /// A PostgreSQL database on the server of `admin_url` when `postgres`,
    /// else an SQLite file; `name` tells the bench's apart.
    pub async fn create(postgres: bool, admin_url: &str, name: &str) -> Self {
        if postgres {
            let prefix = format!("tenantd_bench_{name}");
            return Self::Postgres(BenchDatabase::create(admin_url, &prefix).await);
        }
        Self::Sqlite(SqliteFile::new(name))
    }

    /// What the tables call it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "SQLite",
            Self::Postgres(_) => "PostgreSQL",
        }
    }

    /// Server settings for it, with the bench tokens.
    pub fn config(&self) -> Config {
        match self {
            Self::Sqlite(file) => file.config(),
            Self::Postgres(database) => database.config(),
        }
    }

    /// Removes it; a database from the server of `admin_url`.
    pub async fn remove(self, admin_url: &str) {
        match self {
            Self::Sqlite(file) => drop(file),
            Self::Postgres(database) => database.drop_database(admin_url).await,
        }
    }
}
