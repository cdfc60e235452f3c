//! A TCP proxy in front of the database that a test can cut: every open
//! connection is dropped and new ones are closed as soon as they are
//! accepted, as when PostgreSQL restarts or a network partition hits, and
//! restored later. Only the server under test goes through it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A running proxy.
pub struct Proxy {
    /// Where it listens.
    pub address: SocketAddr,
    /// Whether connections are refused.
    cut: Arc<AtomicBool>,
    /// Bumped on every cut, so open connections drop.
    cuts: watch::Sender<u64>,
    /// The accept loop.
    task: JoinHandle<()>,
}

impl Proxy {
    /// Forwards `127.0.0.1:0` to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let address = listener.local_addr().expect("proxy address");
        let cut = Arc::new(AtomicBool::new(false));
        let (cuts, _) = watch::channel(0u64);
        let task = tokio::spawn({
            let (cut, cuts) = (Arc::clone(&cut), cuts.clone());
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    if cut.load(Ordering::SeqCst) {
                        drop(client);
                        continue;
                    }
                    tokio::spawn(forward(client, target, cuts.subscribe()));
                }
            }
        });
        Self {
            address,
            cut,
            cuts,
            task,
        }
    }

    /// Drops every connection and refuses new ones until [`Self::restore`].
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        self.cuts.send_modify(|cuts| *cuts += 1);
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }

    /// `url` with its `host:port` replaced by the proxy's.
    pub fn url_through(&self, url: &str) -> String {
        let (scheme, rest) = url.split_once("://").expect("a URL with a scheme");
        let (userinfo, rest) = rest
            .rsplit_once('@')
            .map_or(("", rest), |(user, rest)| (user, rest));
        let path = rest.find('/').map_or("", |slash| &rest[slash..]);
        let at = if userinfo.is_empty() { "" } else { "@" };
        format!("{scheme}://{userinfo}{at}{}{path}", self.address)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        self.cut();
    }
}

async fn forward(mut client: TcpStream, target: SocketAddr, mut cuts: watch::Receiver<u64>) {
    let Ok(mut server) = TcpStream::connect(target).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = cuts.changed() => {}
    }
}
