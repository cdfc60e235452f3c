//! The real tenantd server, started on `127.0.0.1:0` for one test.

use tenantd::config::Config;
use tenantd::pb::tenant_service_client::TenantServiceClient;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

use super::db::{Backend, TestDatabase};

/// A running server with its own database.
pub struct TestServer {
    /// A channel to it.
    pub channel: Channel,
    /// Its database URL, for tests that check what is stored.
    pub database_url: String,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), tenantd::error::Error>>,
    database: Option<TestDatabase>,
}

impl TestServer {
    /// Starts a server on a fresh database of `backend`.
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, |_| {}).await
    }

    /// Starts a server on a fresh database, after `adjust` has changed its
    /// configuration.
    pub async fn start_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Self {
        let database = TestDatabase::create(backend).await;
        let mut server = Self::start_on(&database.url, adjust).await;
        server.database = Some(database);
        server
    }

    /// Starts a server on an existing database.
    async fn start_on(database_url: &str, adjust: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::for_database(database_url);
        config.shutdown_grace = std::time::Duration::from_secs(5);
        adjust(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("local address");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(tenantd::server::run(config, listener, async move {
            let _ = stopped.await;
        }));
        let channel = Channel::from_shared(format!("http://{address}"))
            .expect("endpoint")
            .connect()
            .await
            .expect("connect to the test server");
        Self {
            channel,
            database_url: database_url.to_owned(),
            stop,
            task,
            database: None,
        }
    }

    /// A TenantService client.
    pub fn tenants(&self) -> TenantServiceClient<Channel> {
        TenantServiceClient::new(self.channel.clone())
    }

    /// Shuts the server down gracefully and removes its database.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let outcome = self.task.await.expect("server task panicked");
        outcome.expect("server stopped with an error");
        if let Some(database) = self.database {
            database.drop_database().await;
        }
    }
}
