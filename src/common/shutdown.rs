//! The server's stop signal as the long-running loops wait for it: a
//! `watch` of `bool` that turns true when the server stops.

use tokio::sync::watch;

/// Resolves once the server is stopping (or its stop signal is gone).
pub async fn stopped(stopping: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not Send: it is dropped here, not
    // held across the caller's await.
    let _ = stopping.wait_for(|stopping| *stopping).await.map(drop);
}
