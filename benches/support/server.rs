//! One real server (`tenantd::server::run`) on a runtime of its own, so the
//! load generator's runtime and the server's compete for cores as two
//! processes would.

use std::time::Duration;

use tenantd::settings::Config;
use tokio::sync::oneshot;
use tonic::transport::{Channel, Endpoint};

use super::SERVER_THREAD;

/// What the tables call a server runtime flavour.
pub fn runtime_name(multi_thread: bool) -> &'static str {
    if multi_thread {
        "multi_thread"
    } else {
        "current_thread"
    }
}

/// A `multi_thread` runtime with 2 workers or a `current_thread` one, its
/// threads named [`SERVER_THREAD`].
pub fn server_runtime(multi_thread: bool) -> tokio::runtime::Runtime {
    let mut builder = if multi_thread {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(2);
        builder
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    builder
        .thread_name(SERVER_THREAD)
        .enable_all()
        .build()
        .expect("server runtime")
}

/// A listener bound here, to be registered with the server runtime's
/// reactor there, and its address.
pub fn bind_local() -> (std::net::TcpListener, std::net::SocketAddr) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("non-blocking");
    let address = listener.local_addr().expect("address");
    (listener, address)
}

/// A thread that runs until told to stop: dropping this tells it, then
/// waits until it has ended.
pub struct StoppedOnDrop {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StoppedOnDrop {
    /// Guards `thread`, which ends once `stop` has sent (or been dropped).
    pub fn new(stop: oneshot::Sender<()>, thread: std::thread::JoinHandle<()>) -> Self {
        Self {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for StoppedOnDrop {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A server under test, on a runtime thread of its own.
pub struct Running {
    /// Where it listens.
    pub address: std::net::SocketAddr,
    _thread: StoppedOnDrop,
}

impl Running {
    /// Serves `config` on a `multi_thread` (2 workers) or `current_thread`
    /// runtime until dropped.
    pub fn start(multi_thread: bool, config: Config) -> Self {
        let runtime = server_runtime(multi_thread);
        let (listener, address) = bind_local();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(SERVER_THREAD.to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                    let shutdown = async move {
                        let _ = stopped.await;
                    };
                    if let Err(error) = tenantd::server::run(config, listener, shutdown).await {
                        eprintln!("bench server failed: {error}");
                    }
                });
            })
            .expect("server thread");
        Self {
            address,
            _thread: StoppedOnDrop::new(stop, thread),
        }
    }

    /// A channel to it, once it answers.
    pub async fn connect(&self) -> Channel {
        let endpoint = Endpoint::from_shared(format!("http://{}", self.address)).expect("endpoint");
        for _ in 0..200 {
            if let Ok(channel) = endpoint.connect().await {
                return channel;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the bench server did not start")
    }
}

/// A server on the caller's own runtime, for benches that measure the
/// process as a whole; stopped by [`Here::stop`].
pub struct Here {
    /// A channel to it.
    pub channel: Channel,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<tenantd::error::Result<()>>,
}

impl Here {
    /// Serves `config` on this runtime and connects to it.
    pub async fn start(config: Config) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(tenantd::server::run(config, listener, async move {
            let _ = stopped.await;
        }));
        let channel = Endpoint::from_shared(format!("http://{address}"))
            .expect("endpoint")
            .connect()
            .await
            .expect("connect");
        Self {
            channel,
            stop,
            task,
        }
    }

    /// Stops it and waits until it has.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}
