//! WatchConfig: one follower per replica reads the configuration change
//! log and fans its entries out; each watcher turns the entries that
//! concern its tenant into events.
//!
//! Invariants:
//! - the follower reads the log in revision order, after every change
//!   notification (PostgreSQL `LISTEN`, so changes made on any replica
//!   arrive) and on a slow backstop tick, and broadcasts each entry once;
//! - a watcher subscribes before it reads where the log stands, so no
//!   entry falls between its snapshot (or replay) and its live events, and
//!   it skips entries at or below the revision it has already covered;
//! - a watcher that reads more slowly than entries arrive never stalls the
//!   follower or the other watchers: the broadcast ring is bounded, a
//!   lagging watcher is told to resync (FELL_BEHIND) and gets a snapshot;
//! - configuration events carry the tenant's effective configuration as it
//!   was at the event's revision, so a watcher resuming after revision `r`
//!   sees every version after `r`, each once, in order; flags, which keep
//!   no history, are sent as they are when the event is sent;
//! - a watch ends with NOT_FOUND once its tenant is deleted.
//!
//! The follower is here; one stream's watcher is in [`watcher`].

mod watcher;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{broadcast, mpsc, watch};

use crate::access::{PlatformScope, TenantScope};
use crate::config::change::ConfigChange;
use crate::config::configs::Configs;
use crate::config::layered::LayeredConfig;
use crate::config::watch::watcher::Watcher;
use crate::error::Result;
use crate::flags::Flag;
use crate::flags::Flags;
use crate::store::Store;
use crate::store::scope::Scope;
use crate::tenancy::Tenants;

/// Log entries a watcher may fall behind before it must resync.
const RING: usize = 256;
/// Log entries read per query.
const PAGE: u64 = 500;
/// Events buffered per watcher between it and its client.
const OUTBOX: usize = 8;
/// How often the follower reads the log without a notification, in case
/// one was missed.
const BACKSTOP: Duration = Duration::from_secs(5);
/// How long changes stay in the log for watchers to resume from.
const RETENTION_DAYS: i64 = 7;
/// How often the log is pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Why a watcher must start over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResyncReason {
    /// The changes after the requested revision were pruned.
    RevisionExpired,
    /// The requested revision is ahead of the log.
    RevisionUnknown,
    /// The watcher read too slowly and entries were dropped.
    FellBehind,
}

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchEventKind {
    /// The whole state, replacing what the watcher holds: the effective
    /// configuration and every flag as resolved for the tenant.
    Snapshot(LayeredConfig, Vec<Flag>),
    /// The effective configuration changed.
    Config(LayeredConfig),
    /// A flag or an override of it changed: the flag as resolved for the
    /// tenant now.
    Flag(Flag),
    /// The flag was deleted.
    FlagDeleted(String),
    /// Nothing changed for a heartbeat interval.
    Heartbeat,
    /// The watcher must discard its state; a snapshot follows.
    Resync(ResyncReason, String),
}

/// One event of a watch.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchEvent {
    /// The log revision it brings the watcher to.
    pub revision: i64,
    /// When its change was committed, or when it was sent.
    pub event_time: DateTime<Utc>,
    /// What happened.
    pub kind: WatchEventKind,
}

/// What a watcher asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchRequest {
    /// Resume after this revision; 0 starts with a snapshot.
    pub after_revision: i64,
    /// Longest silence before a heartbeat.
    pub heartbeat: Duration,
}

/// The watch service of a replica; cheap to clone.
#[derive(Clone)]
pub struct ConfigWatch {
    /// Shared with the follower task.
    inner: Arc<Inner>,
}

struct Inner {
    /// Where the log lives.
    store: Store,
    /// Effective configurations, now and at past revisions.
    configs: Configs,
    /// Flags as resolved for a tenant.
    flags: Flags,
    /// Tenants' current plans.
    tenants: Tenants,
    /// Log entries as the follower reads them.
    entries: broadcast::Sender<Arc<ConfigChange>>,
    /// The newest revision the follower has broadcast.
    latest: AtomicI64,
    /// Turns true when the server stops: watches end so it can.
    stopping: watch::Receiver<bool>,
}

impl ConfigWatch {
    /// A watch service over `store`; streams end once `stopping` is true.
    pub fn new(
        store: Store,
        (configs, flags): (Configs, Flags),
        tenants: Tenants,
        stopping: watch::Receiver<bool>,
    ) -> Self {
        let (entries, _) = broadcast::channel(RING);
        Self {
            inner: Arc::new(Inner {
                store,
                configs,
                flags,
                tenants,
                entries,
                latest: AtomicI64::new(0),
                stopping,
            }),
        }
    }

    /// Starts the follower; it reads from where the log stands now.
    pub async fn spawn_follower(&self) -> Result<tokio::task::JoinHandle<()>> {
        let platform = Scope::from(&PlatformScope::system());
        let mut changes = self.inner.store.changes();
        let bounds = self.inner.store.config_revision_bounds(platform).await?;
        self.inner.latest.store(bounds.current, Ordering::Release);
        let inner = Arc::clone(&self.inner);
        Ok(tokio::spawn(async move {
            let mut backstop = tokio::time::interval(BACKSTOP);
            let mut prune = tokio::time::interval(PRUNE_EVERY);
            loop {
                tokio::select! {
                    change = changes.next() => if change.is_none() { return },
                    _ = backstop.tick() => {}
                    _ = prune.tick() => inner.prune().await,
                }
                if let Err(error) = inner.follow().await {
                    tracing::warn!(%error, "reading the configuration change log failed; retrying");
                }
            }
        }))
    }

    /// Streams the events of `scope`'s tenant until the client goes away,
    /// the server stops or reading fails (the last item is then the error).
    pub fn watch(
        &self,
        scope: TenantScope,
        request: WatchRequest,
    ) -> mpsc::Receiver<Result<WatchEvent>> {
        let (outbox, events) = mpsc::channel(OUTBOX);
        let watcher = Watcher::new(self.clone(), scope, outbox);
        tokio::spawn(watcher.run(request));
        events
    }
}

impl Inner {
    /// Broadcasts every entry after the newest broadcast.
    async fn follow(&self) -> Result<()> {
        let platform = Scope::from(&PlatformScope::system());
        loop {
            let after = self.latest.load(Ordering::Acquire);
            let page = self
                .store
                .config_changes_after(platform.clone(), after, PAGE)
                .await?;
            let full = page.len() as u64 == PAGE;
            for entry in page {
                self.latest.store(entry.revision, Ordering::Release);
                // No watcher is not an error.
                let _ = self.entries.send(Arc::new(entry));
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// Drops log entries past the retention; every replica may do it.
    async fn prune(&self) {
        let cutoff = Utc::now() - chrono::Duration::days(RETENTION_DAYS);
        if let Err(error) = self.store.prune_config_changes(cutoff).await {
            tracing::warn!(%error, "pruning the configuration change log failed");
        }
    }
}
