//! A fresh PostgreSQL database per bench run, migrated by its owner, and
//! the login role (neither superuser nor owner) the servers connect as, so
//! row-level security applies as in production.

use sea_orm::{ConnectionTrait, Database};
use tenantd::settings::Config;

use super::{LOGIN, with_tokens};

/// A new PostgreSQL database, migrated by its owner, and the login role
/// (neither superuser nor owner) the servers connect as.
pub struct BenchDatabase {
    /// The owner's URL (the admin URL's user), for migrations and setup.
    pub owner_url: String,
    /// The login role's URL.
    pub app_url: String,
    /// The database name.
    pub name: String,
}

impl BenchDatabase {
    /// Creates it on the server of `admin_url` (a superuser's URL).
    pub async fn create(admin_url: &str, prefix: &str) -> Self {
        let admin = Database::connect(admin_url)
            .await
            .expect("connect as superuser");
        let name = format!("{prefix}_{}", chrono::Utc::now().timestamp_millis());
        for statement in [
            format!("CREATE DATABASE {name}"),
            format!(
                "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{LOGIN}') \
                 THEN CREATE ROLE {LOGIN} LOGIN PASSWORD 'bench'; END IF; END $$"
            ),
        ] {
            admin.execute_unprepared(&statement).await.expect("set up");
        }
        let _ = admin.close().await;
        let (server, _) = admin_url.rsplit_once('/').expect("a database in the URL");
        let owner_url = format!("{server}/{name}");
        let host = server.rsplit_once('@').map_or(server, |(_, host)| host);
        let app_url = format!("postgres://{LOGIN}:bench@{host}/{name}");
        tenantd::server::migrate(&owner_url).await.expect("migrate");
        let owner = Database::connect(&owner_url)
            .await
            .expect("connect as owner");
        // Grants come with the migrations; the login role joins the app role.
        owner
            .execute_unprepared(&format!("GRANT tenantd_app TO {LOGIN}"))
            .await
            .expect("grant");
        let _ = owner.close().await;
        Self {
            owner_url,
            app_url,
            name,
        }
    }

    /// Server settings for it, with the bench tokens.
    pub fn config(&self) -> Config {
        let mut config = Config::for_database(&self.app_url);
        config.migration_database_url = self.owner_url.clone();
        with_tokens(config)
    }

    /// Drops it, the NOLOGIN roles of its SCHEMA tenants and the bench login
    /// role (roles are the cluster's, not the database's), from the server
    /// of `admin_url`.
    pub async fn drop_database(self, admin_url: &str) {
        let mut roles = Vec::new();
        if let Ok(owner) = Database::connect(&self.owner_url).await {
            let listed = owner
                .query_all_raw(sea_orm::Statement::from_string(
                    sea_orm::DbBackend::Postgres,
                    "SELECT nspname FROM pg_namespace WHERE nspname ~ '^tenant_[0-9a-f]{32}$'",
                ))
                .await
                .unwrap_or_default();
            roles = listed
                .iter()
                .filter_map(|row| row.try_get::<String>("", "nspname").ok())
                .collect();
            let _ = owner.close().await;
        }
        if let Ok(admin) = Database::connect(admin_url).await {
            let _ = admin
                .execute_unprepared(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
                .await;
            for role in roles {
                let _ = admin
                    .execute_unprepared(&format!("DROP ROLE IF EXISTS {role}"))
                    .await;
            }
            // Another bench still running keeps it: it has rights there.
            let _ = admin
                .execute_unprepared(&format!("DROP ROLE IF EXISTS {LOGIN}"))
                .await;
            let _ = admin.close().await;
        }
    }
}
