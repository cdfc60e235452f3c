//! TLS on the gRPC port (`--tls-cert`, `--tls-key`), with mutual TLS when a
//! client CA is configured (`--tls-client-ca`): rustls on the ring provider
//! (the one sea-orm's rustls uses already), HTTP/2 by ALPN.
//!
//! tenantd accepts TCP itself rather than through tonic's TLS, which cannot
//! change its certificate: each connection's handshake runs in its own task
//! (bounded by [`HANDSHAKE_TIMEOUT`]), so a slow or failed handshake drops
//! that connection only and never holds up the accept loop, and the
//! certificate comes from [`reload`], which follows its files. The client
//! certificate's service is found once per connection ([`identity`]) and
//! reaches the layers through [`peer`].

pub mod identity;
pub mod peer;
pub mod reload;

use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};
use tokio_stream::wrappers::ReceiverStream;

use crate::error::{Error, Result};
use crate::server::tls::identity::ClientServices;
use crate::server::tls::peer::TlsPeerStream;
use crate::server::tls::reload::ReloadingKey;
use crate::settings::TlsSettings;

/// How long a client gets to finish its TLS handshake before its
/// connection is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the accept loop waits after the listener failed (out of file
/// descriptors, say) before it accepts again, so it does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Connections handed to the server once their handshake is done; more
/// wait in their handshake tasks.
const HANDSHAKEN_BACKLOG: usize = 64;

/// The TLS side of the gRPC port, loaded and following its files.
pub struct Tls {
    /// Runs the handshakes.
    acceptor: TlsAcceptor,
    /// Which client certificates are which services.
    services: Arc<ClientServices>,
}

impl Tls {
    /// Loads what `settings` name, refusing (by name) a file that does not
    /// parse; the task that follows the certificate's files joins `tasks`.
    pub fn load(settings: &TlsSettings, tasks: &mut Vec<JoinHandle<()>>) -> Result<Self> {
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(Error::internal)?;
        let builder = match &settings.client_ca {
            Some(path) => {
                let roots = Arc::new(client_roots(path)?);
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(roots, Arc::clone(&provider))
                        .build()
                        .map_err(|error| refused_ca(path, &error.to_string()))?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let (resolver, follower) = ReloadingKey::load(&settings.cert, &settings.key, provider)?;
        let mut config = builder.with_cert_resolver(resolver);
        config.alpn_protocols = vec![b"h2".to_vec()];
        tasks.push(follower);
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            services: Arc::new(ClientServices::new(&settings.client_services)),
        })
    }

    /// The connections of `listener` whose handshake succeeded, until the
    /// stream is dropped (then the listener closes).
    pub fn incoming(
        self,
        listener: TcpListener,
    ) -> ReceiverStream<Result<TlsPeerStream, Infallible>> {
        let (sender, receiver) = mpsc::channel(HANDSHAKEN_BACKLOG);
        tokio::spawn(accept(listener, self, sender));
        ReceiverStream::new(receiver)
    }
}

fn refused_ca(path: &Path, why: &str) -> Error {
    Error::invalid_field("tls-client-ca", format!("{}: {why}", path.display()))
}

/// The CA certificates in the PEM file `path`.
fn client_roots(path: &Path) -> Result<RootCertStore> {
    let pem = std::fs::read(path).map_err(|error| refused_ca(path, &error.to_string()))?;
    let mut roots = RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(&pem) {
        let certificate = certificate.map_err(|error| refused_ca(path, &error.to_string()))?;
        roots
            .add(certificate)
            .map_err(|error| refused_ca(path, &error.to_string()))?;
    }
    if roots.is_empty() {
        return Err(refused_ca(path, "holds no PEM certificate"));
    }
    Ok(roots)
}

/// Accepts TCP connections and starts each one's handshake, until nobody
/// takes handshaken connections any more.
async fn accept(
    listener: TcpListener,
    tls: Tls,
    handshaken: mpsc::Sender<Result<TlsPeerStream, Infallible>>,
) {
    let tls = Arc::new(tls);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = handshaken.closed() => return,
        };
        let tcp = match accepted {
            Ok((tcp, _)) => tcp,
            Err(error) => {
                tracing::warn!(%error, "accepting a connection failed");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                continue;
            }
        };
        tokio::spawn(handshake(tcp, Arc::clone(&tls), handshaken.clone()));
    }
}

/// Runs the handshake of `tcp`; a connection whose handshake fails or
/// takes too long is dropped.
async fn handshake(
    tcp: TcpStream,
    tls: Arc<Tls>,
    handshaken: mpsc::Sender<Result<TlsPeerStream, Infallible>>,
) {
    // As on the plaintext port (see `stack`): without TCP_NODELAY, small
    // answers wait for the client's delayed ACK.
    if let Err(error) = tcp.set_nodelay(true) {
        tracing::debug!(%error, "TCP_NODELAY not set");
    }
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => {
            let stream = TlsPeerStream::new(stream, &tls.services);
            let _ = handshaken.send(Ok(stream)).await;
        }
        Ok(Err(error)) => tracing::debug!(%error, "tls handshake failed"),
        Err(_) => tracing::debug!("tls handshake timed out"),
    }
}
