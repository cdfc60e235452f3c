//! The certificate and key the TLS port serves, read again when their files
//! change: cert-manager, a Kubernetes Secret volume or an operator's `mv`
//! renews them in place, and new handshakes get the new pair without a
//! restart, while connections already open keep theirs.
//!
//! A changed pair is swapped in only when both files parse and the key is
//! the certificate's; anything else (a half-written file, a key of another
//! certificate) keeps the old pair and logs one warning per change seen.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::task::JoinHandle;
use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;

use crate::error::{Error, Result};

/// How often the files are read to see whether they changed: a renewed
/// certificate is served within this long.
pub const RELOAD_POLL: Duration = Duration::from_secs(2);

/// The two files as read, to tell whether they changed since.
#[derive(Clone, PartialEq, Eq)]
struct PairFiles {
    /// The certificate chain file's bytes.
    cert: Vec<u8>,
    /// The key file's bytes.
    key: Vec<u8>,
}

/// Serves the current pair to every handshake.
#[derive(Debug)]
pub struct ReloadingKey {
    /// The pair new handshakes get.
    current: ArcSwap<CertifiedKey>,
}

impl ResolvesServerCert for ReloadingKey {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

/// Where the pair is read from, and with which provider it is parsed.
struct PairSource {
    /// The certificate chain file.
    cert: PathBuf,
    /// The private key file.
    key: PathBuf,
    /// Parses the key.
    provider: Arc<CryptoProvider>,
}

impl PairSource {
    fn read(&self) -> Result<PairFiles> {
        Ok(PairFiles {
            cert: read_file(&self.cert, "tls-cert")?,
            key: read_file(&self.key, "tls-key")?,
        })
    }

    /// The pair `files` hold, or why they are refused, naming the file.
    fn parse(&self, files: &PairFiles) -> Result<CertifiedKey> {
        let refused = |flag: &str, path: &Path, why: String| {
            Error::invalid_field(flag, format!("{}: {why}", path.display()))
        };
        let chain = CertificateDer::pem_slice_iter(&files.cert)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| refused("tls-cert", &self.cert, error.to_string()))?;
        if chain.is_empty() {
            return Err(refused(
                "tls-cert",
                &self.cert,
                "holds no PEM certificate".into(),
            ));
        }
        let key = PrivateKeyDer::from_pem_slice(&files.key).map_err(|error| {
            refused(
                "tls-key",
                &self.key,
                format!("no usable PEM private key ({error})"),
            )
        })?;
        CertifiedKey::from_der(chain, key, &self.provider).map_err(|error| {
            refused(
                "tls-key",
                &self.key,
                format!("is not the key of the certificate ({error})"),
            )
        })
    }
}

fn read_file(path: &Path, flag: &str) -> Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|error| Error::invalid_field(flag, format!("{}: {error}", path.display())))
}

impl ReloadingKey {
    /// Loads the pair from `cert` and `key`, refusing files that do not
    /// parse (by name), and starts following their changes.
    pub fn load(
        cert: &Path,
        key: &Path,
        provider: Arc<CryptoProvider>,
    ) -> Result<(Arc<Self>, JoinHandle<()>)> {
        let source = PairSource {
            cert: cert.to_owned(),
            key: key.to_owned(),
            provider,
        };
        let files = source.read()?;
        let pair = source.parse(&files)?;
        let resolver = Arc::new(Self {
            current: ArcSwap::from_pointee(pair),
        });
        let follower = tokio::spawn(follow(source, files, Arc::clone(&resolver)));
        Ok((resolver, follower))
    }
}

/// Reads the files every [`RELOAD_POLL`] and swaps in a changed pair that
/// parses; `loaded` is what the current pair was read from.
async fn follow(source: PairSource, mut loaded: PairFiles, resolver: Arc<ReloadingKey>) {
    let source = Arc::new(source);
    let mut last_seen = loaded.clone();
    let mut ticks = tokio::time::interval(RELOAD_POLL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let reader = Arc::clone(&source);
        let Ok(read) = tokio::task::spawn_blocking(move || reader.read()).await else {
            continue;
        };
        let files = match read {
            Ok(files) if files == loaded || files == last_seen => continue,
            Ok(files) => files,
            Err(error) => {
                tracing::debug!(%error, "tls files unreadable, serving the loaded pair");
                continue;
            }
        };
        match source.parse(&files) {
            Ok(pair) => {
                resolver.current.store(Arc::new(pair));
                tracing::info!(cert = %source.cert.display(), "tls certificate reloaded");
                loaded = files.clone();
            }
            Err(error) => {
                tracing::warn!(%error, "tls files changed but are refused, serving the loaded pair")
            }
        }
        last_seen = files;
    }
}
