//! The real tenantd server, started on `127.0.0.1:0` for one test, with an
//! admin and a service token configured.

use tenantd::access::named_tokens::NamedToken;
use tenantd::pb::tenant_service_client::TenantServiceClient;
use tenantd::settings::Config;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use super::db::{Backend, TestDatabase};

/// The operator token every test server accepts.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";
/// The service token every test server accepts.
pub const SERVICE_TOKEN: &str = "test-service-token-0123456789";

/// Sends `authorization: Bearer …` (and any extra metadata) on every call.
#[derive(Clone)]
pub struct Credentials {
    /// The authorization value, if any.
    authorization: Option<MetadataValue<Ascii>>,
    /// Further metadata, e.g. `x-tenant-id`.
    extra: Vec<(&'static str, MetadataValue<Ascii>)>,
}

impl Credentials {
    /// A bearer token or API key.
    pub fn bearer(token: &str) -> Self {
        Self {
            authorization: Some(format!("Bearer {token}").parse().expect("ascii token")),
            extra: Vec::new(),
        }
    }

    /// No credentials at all.
    pub fn none() -> Self {
        Self {
            authorization: None,
            extra: Vec::new(),
        }
    }

    /// Also sends `key: value`.
    pub fn with(mut self, key: &'static str, value: &str) -> Self {
        self.extra
            .push((key, value.parse().expect("ascii metadata")));
        self
    }
}

impl Interceptor for Credentials {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.authorization {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        for (key, value) in &self.extra {
            request.metadata_mut().insert(*key, value.clone());
        }
        Ok(request)
    }
}

/// A TenantService client sending fixed credentials.
pub type Client = TenantServiceClient<InterceptedService<Channel, Credentials>>;

/// A running server with its own database.
pub struct TestServer {
    /// A channel to it.
    pub channel: Channel,
    /// Where it listens.
    pub address: std::net::SocketAddr,
    /// The database owner's URL, for tests that check what is stored
    /// (the owner is a superuser in tests, so row-level security does not
    /// hide rows from it).
    pub database_url: String,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), tenantd::error::Error>>,
    database: Option<TestDatabase>,
}

/// The test settings: fast key-use flushes, the test tokens.
pub fn test_config(database: &TestDatabase) -> Config {
    let mut config = Config::for_database(&database.url);
    config.migration_database_url = database.owner_url.clone();
    config.shutdown_grace = std::time::Duration::from_secs(5);
    config.key_use_flush_interval = std::time::Duration::from_millis(100);
    config.usage_aggregation_interval = std::time::Duration::from_millis(50);
    config.admin_tokens = vec![NamedToken {
        name: "test-admin".to_owned(),
        token: ADMIN_TOKEN.to_owned(),
    }];
    config.service_tokens = vec![NamedToken {
        name: "test-service".to_owned(),
        token: SERVICE_TOKEN.to_owned(),
    }];
    config
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
        let mut server = Self::start_on(&database, adjust).await;
        server.database = Some(database);
        server
    }

    /// Starts a server on an existing database that another server (or the
    /// test) owns; stopping this one leaves the database in place.
    pub async fn start_on(database: &TestDatabase, adjust: impl FnOnce(&mut Config)) -> Self {
        let mut config = test_config(database);
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
            address,
            database_url: database.owner_url.clone(),
            stop,
            task,
            database: None,
        }
    }

    /// Two servers on one fresh PostgreSQL database, the second keeping
    /// its cached answers an hour: what it answers anew within seconds of a
    /// change on the first came through the change feed. `None` when no
    /// PostgreSQL answers (outside CI).
    pub async fn replicas_with_long_cache() -> Option<(Self, Self)> {
        if !super::db::postgres_available().await {
            return None;
        }
        let first = Self::start(Backend::Postgres).await;
        let second = Self::start_on(first.database(), |config| {
            config.cache_ttl = std::time::Duration::from_secs(3600);
        })
        .await;
        Some((first, second))
    }

    /// The database this server made, for a second server to share.
    pub fn database(&self) -> &TestDatabase {
        self.database
            .as_ref()
            .expect("a server that made its database")
    }

    /// A TenantService client acting as the operator.
    pub fn tenants(&self) -> Client {
        self.tenants_as(Credentials::bearer(ADMIN_TOKEN))
    }

    /// A TenantService client sending `credentials`.
    pub fn tenants_as(&self, credentials: Credentials) -> Client {
        TenantServiceClient::with_interceptor(self.channel.clone(), credentials)
    }

    /// A channel whose calls carry `authority` as `:authority`, as when
    /// the server is reached under a tenant's host name.
    pub async fn channel_for_host(&self, authority: &str) -> Channel {
        Channel::from_shared(format!("http://{}", self.address))
            .expect("endpoint")
            .origin(format!("http://{authority}").parse().expect("authority"))
            .connect()
            .await
            .expect("connect to the test server")
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
