//! What the TLS tests need: CAs and the certificates they issue, made in
//! the test with rcgen; the real server serving TLS from files in a
//! directory of its own; TLS clients that trust one CA and may present a
//! client certificate.

use std::path::PathBuf;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use tenantd::settings::TlsSettings;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::support::db::{Backend, TestDatabase};
use crate::support::server::test_config;

/// A certificate authority.
pub struct Ca {
    /// Signs what the CA issues.
    issuer: Issuer<'static, KeyPair>,
    /// Its certificate.
    pub pem: String,
}

/// A certificate and its private key, both PEM.
pub struct Pair {
    pub cert: String,
    pub key: String,
}

impl Ca {
    /// A new CA called `name`.
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("CA key");
        let pem = params.self_signed(&key).expect("CA certificate").pem();
        Self {
            issuer: Issuer::new(params, key),
            pem,
        }
    }

    fn issue(&self, params: &CertificateParams) -> Pair {
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("certificate");
        Pair {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }

    /// A server certificate for `localhost` and `127.0.0.1`.
    pub fn server(&self) -> Pair {
        let params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("server params");
        self.issue(&params)
    }

    /// A client certificate with subject `CN=common_name` and, when given,
    /// the URI SAN `spiffe_id`.
    pub fn client(&self, common_name: &str, spiffe_id: Option<&str>) -> Identity {
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        if let Some(id) = spiffe_id {
            let uri = id.try_into().expect("an IA5 URI");
            params.subject_alt_names = vec![SanType::URI(uri)];
        }
        let pair = self.issue(&params);
        Identity::from_pem(pair.cert, pair.key)
    }
}

/// A TLS server on its own SQLite database, its files in a directory of
/// its own.
pub struct TlsServer {
    pub port: u16,
    pub dir: PathBuf,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), tenantd::error::Error>>,
    database: TestDatabase,
}

impl TlsServer {
    /// Serves `pair`, requiring client certificates of `client_ca` when
    /// given, with the `NAME=IDENTITY` mapping `services`.
    pub async fn start(pair: &Pair, client_ca: Option<&Ca>, services: &[&str]) -> Self {
        let dir = std::env::temp_dir().join(format!("tenantd-tls-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("tls directory");
        let server = Self::write_pair(&dir, pair);
        let client_ca = client_ca.map(|ca| {
            let path = dir.join("ca.crt");
            std::fs::write(&path, &ca.pem).expect("write ca");
            path
        });
        let args = tenantd::settings::TlsArgs {
            tls_cert: Some(server.0),
            tls_key: Some(server.1),
            tls_client_ca: client_ca,
            tls_client_services: services.iter().map(|entry| (*entry).to_owned()).collect(),
        };
        let database = TestDatabase::create(Backend::Sqlite).await;
        let mut config = test_config(&database);
        config.tls = TlsSettings::from_args(&args).expect("tls flags");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("address").port();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(tenantd::server::run(config, listener, async move {
            let _ = stopped.await;
        }));
        Self {
            port,
            dir,
            stop,
            task,
            database,
        }
    }

    /// Writes `pair` as the served files, the certificate first.
    pub fn write_pair(dir: &std::path::Path, pair: &Pair) -> (PathBuf, PathBuf) {
        let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
        std::fs::write(&cert, &pair.cert).expect("write cert");
        std::fs::write(&key, &pair.key).expect("write key");
        (cert, key)
    }

    /// Stops the server and removes its files and database.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let outcome = self.task.await.expect("server task panicked");
        outcome.expect("server stopped with an error");
        let _ = std::fs::remove_dir_all(&self.dir);
        self.database.drop_database().await;
    }
}

/// A new TLS connection to `port` trusting only `ca`, presenting
/// `identity` when given.
pub async fn connect(
    port: u16,
    ca: &Ca,
    identity: Option<Identity>,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&ca.pem))
        .domain_name("localhost");
    if let Some(identity) = identity {
        tls = tls.identity(identity);
    }
    Endpoint::from_shared(format!("https://127.0.0.1:{port}"))
        .expect("endpoint")
        .tls_config(tls)?
        .connect()
        .await
}

/// Whether a health check over a new connection (as [`connect`] makes it)
/// answers SERVING; the error a user sees otherwise.
pub async fn health(port: u16, ca: &Ca, identity: Option<Identity>) -> Result<(), String> {
    let channel = connect(port, ca, identity)
        .await
        .map_err(|error| format!("connect: {error:?}"))?;
    let answer = HealthClient::new(channel)
        .check(HealthCheckRequest::default())
        .await
        .map_err(|status| format!("check: {status:?}"))?;
    assert_eq!(answer.into_inner().status, 1, "SERVING");
    Ok(())
}

/// Waits (for at most ten seconds) until `probe` succeeds.
pub async fn eventually<F: Future<Output = Result<(), String>>>(mut probe: impl FnMut() -> F) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let outcome = probe().await;
        match outcome {
            Ok(()) => return,
            Err(error) if std::time::Instant::now() > deadline => {
                panic!("never succeeded: {error}")
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
}
