//! Test support: databases per test, the real server, a DNS server for
//! domain verification, and assertions on google.rpc error details.

pub mod db;
pub mod dns;
pub mod event_log;
pub mod fixtures;
pub mod flags;
pub mod jwt;
pub mod proxy;
pub mod raw;
pub mod schemas;
pub mod server;
pub mod status;
pub mod usage;

pub use db::Backend;
pub use server::TestServer;

/// Runs each listed `async fn(Backend)` once on SQLite and once on
/// PostgreSQL, as `NAME::sqlite` and `NAME::postgres`. PostgreSQL tests are
/// skipped with a message when no server answers, except under `CI=true`,
/// where they fail instead.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::support::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if $crate::support::db::postgres_available().await {
                        super::$name($crate::support::Backend::Postgres).await;
                    }
                }
            }
        )+
    };
}
