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

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{broadcast, mpsc, watch};

use crate::access::{PlatformScope, TenantScope};
use crate::config::change::{ChangeSubject, ConfigChange};
use crate::config::configs::Configs;
use crate::config::layered::LayeredConfig;
use crate::error::{Error, Result};
use crate::flags::Flag;
use crate::flags::Flags;
use crate::store::Store;
use crate::store::changefeed::{Change, Subscription};
use crate::store::scope::Scope;
use crate::tenancy::TenantState;
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
        let watcher = Watcher {
            service: self.clone(),
            scope,
            feed: self.inner.entries.subscribe(),
            outbox,
            changes: self.inner.store.changes(),
            plan: String::new(),
            covered: 0,
        };
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

/// One WatchConfig stream.
struct Watcher {
    /// The replica's watch service.
    service: ConfigWatch,
    /// The tenant watched.
    scope: TenantScope,
    /// Log entries from the follower.
    feed: broadcast::Receiver<Arc<ConfigChange>>,
    /// Events for the client.
    outbox: mpsc::Sender<Result<WatchEvent>>,
    /// The replica's change feed, to end the watch when its tenant is
    /// deleted.
    changes: Subscription,
    /// The tenant's plan as of `covered`.
    plan: String,
    /// The revision up to which the watcher has told the client everything.
    covered: i64,
}

impl Watcher {
    async fn run(mut self, request: WatchRequest) {
        if let Err(Failure::Error(error)) = self.stream(request).await {
            let _ = self.outbox.send(Err(error)).await;
        }
    }

    async fn stream(&mut self, request: WatchRequest) -> std::result::Result<(), Failure> {
        self.start(request.after_revision).await?;
        let mut stopping = self.service.inner.stopping.clone();
        let mut silence = tokio::time::interval_at(
            tokio::time::Instant::now() + request.heartbeat,
            request.heartbeat,
        );
        loop {
            let sent = tokio::select! {
                () = self.outbox.closed() => return Err(Failure::Gone),
                () = stopped(&mut stopping) => {
                    return Err(Failure::Error(Error::Unavailable {
                        message: "tenantd is shutting down; watch again with after_revision"
                            .to_owned(),
                    }));
                }
                received = self.feed.recv() => self.receive(received).await?,
                change = self.changes.next() => {
                    let mine = Change::Tenant(self.scope.tenant_id());
                    if matches!(change, Some(Change::Everything)) || change == Some(mine) {
                        self.check_tenant().await?;
                    }
                    false
                }
                _ = silence.tick() => {
                    // Only what this watcher has gone through: entries the
                    // follower broadcast may still wait in its queue, and a
                    // client resuming from here must not skip them.
                    self.send(self.covered, Utc::now(), WatchEventKind::Heartbeat)
                        .await?;
                    true
                }
            };
            if sent {
                silence.reset();
            }
        }
    }

    /// Handles one broadcast item; `true` when something was sent.
    async fn receive(
        &mut self,
        received: std::result::Result<Arc<ConfigChange>, broadcast::error::RecvError>,
    ) -> std::result::Result<bool, Failure> {
        match received {
            Ok(entry) => self.apply(&entry).await,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                let message =
                    format!("{missed} changes were dropped while this watcher was reading slowly");
                self.resync(ResyncReason::FellBehind, message).await?;
                Ok(true)
            }
            Err(broadcast::error::RecvError::Closed) => Err(Failure::Gone),
        }
    }

    /// Sends the first events: a snapshot, or what followed `after`.
    async fn start(&mut self, after: i64) -> std::result::Result<(), Failure> {
        let store = &self.service.inner.store;
        if after == 0 {
            return self.snapshot().await;
        }
        let tenant = self.service.inner.tenants.get(&self.scope).await?;
        let bounds = store
            .config_revision_bounds(Scope::from(&self.scope))
            .await?;
        if after > bounds.current {
            let message = format!(
                "revision {after} is ahead of the newest revision {}",
                bounds.current
            );
            return self.resync(ResyncReason::RevisionUnknown, message).await;
        }
        if after < bounds.pruned_through {
            let message = format!(
                "changes up to revision {} are no longer retained",
                bounds.pruned_through
            );
            return self.resync(ResyncReason::RevisionExpired, message).await;
        }
        let mut replay = Vec::new();
        let mut cursor = after;
        while cursor < bounds.current {
            let page = store
                .config_changes_after(Scope::from(&self.scope), cursor, PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            cursor = last.revision;
            replay.extend(
                page.into_iter()
                    .filter(|entry| entry.revision <= bounds.current),
            );
        }
        // The plan at `after`: the one the first later move left, else the
        // current one (read before the bounds, so no move can hide between).
        self.plan = replay
            .iter()
            .find_map(|entry| match &entry.subject {
                ChangeSubject::TenantPlan { from, .. } => Some(from.clone()),
                _ => None,
            })
            .unwrap_or(tenant.plan);
        self.covered = after;
        for entry in replay {
            self.apply(&entry).await?;
        }
        self.covered = self.covered.max(bounds.current);
        Ok(())
    }

    /// Turns a log entry into an event when it concerns the tenant;
    /// `true` when something was sent.
    async fn apply(&mut self, entry: &ConfigChange) -> std::result::Result<bool, Failure> {
        if entry.revision <= self.covered {
            return Ok(false);
        }
        self.covered = entry.revision;
        if !entry.subject.concerns(self.scope.tenant_id(), &self.plan) {
            return Ok(false);
        }
        let kind = match &entry.subject {
            ChangeSubject::Layer(_) => {
                WatchEventKind::Config(self.config_at(entry.revision).await?)
            }
            ChangeSubject::Flag { key, .. } => match self.resolved_flag(key).await? {
                Some(flag) => WatchEventKind::Flag(flag),
                // Deleted since: its deletion follows in the log.
                None => return Ok(false),
            },
            ChangeSubject::FlagDeleted(key) => WatchEventKind::FlagDeleted(key.clone()),
            ChangeSubject::TenantPlan { to, .. } => {
                self.plan = to.clone();
                let flags = self.service.inner.flags.resolved_for(&self.scope).await?;
                WatchEventKind::Snapshot(self.config_at(entry.revision).await?, flags)
            }
        };
        self.send(entry.revision, entry.create_time, kind).await?;
        Ok(true)
    }

    /// Tells the client to start over, then sends a snapshot.
    async fn resync(
        &mut self,
        reason: ResyncReason,
        message: String,
    ) -> std::result::Result<(), Failure> {
        self.send(
            self.covered,
            Utc::now(),
            WatchEventKind::Resync(reason, message),
        )
        .await?;
        self.snapshot().await
    }

    /// Sends the state at the newest revision committed.
    async fn snapshot(&mut self) -> std::result::Result<(), Failure> {
        let bounds = self
            .service
            .inner
            .store
            .config_revision_bounds(Scope::from(&self.scope))
            .await?;
        // Read after the revision: a later move of plan arrives as an
        // event and brings a new snapshot.
        self.plan = self.service.inner.tenants.get(&self.scope).await?.plan;
        let config = self.config_at(bounds.current).await?;
        let flags = self.service.inner.flags.resolved_for(&self.scope).await?;
        self.covered = bounds.current;
        self.send(
            bounds.current,
            Utc::now(),
            WatchEventKind::Snapshot(config, flags),
        )
        .await
    }

    /// Ends the watch with NOT_FOUND once its tenant is deleted.
    async fn check_tenant(&self) -> std::result::Result<(), Failure> {
        let tenant = self.service.inner.tenants.get(&self.scope).await?;
        if tenant.state == TenantState::Deleted {
            return Err(Failure::Error(Error::NotFound {
                kind: "tenant",
                name: tenant.id.resource_name(),
            }));
        }
        Ok(())
    }

    /// The flag `key` as resolved for the tenant, if it still exists.
    async fn resolved_flag(&self, key: &str) -> Result<Option<Flag>> {
        let resolved = self.service.inner.flags.resolved_for(&self.scope).await?;
        Ok(resolved.into_iter().find(|flag| flag.key == key))
    }

    async fn config_at(&self, revision: i64) -> Result<LayeredConfig> {
        self.service
            .inner
            .configs
            .tenant_layers_at(&self.scope, &self.plan, revision)
            .await
    }

    async fn send(
        &self,
        revision: i64,
        event_time: DateTime<Utc>,
        kind: WatchEventKind,
    ) -> std::result::Result<(), Failure> {
        let event = WatchEvent {
            revision,
            event_time,
            kind,
        };
        self.outbox.send(Ok(event)).await.map_err(|_| Failure::Gone)
    }
}

/// Resolves once the server is stopping (or its stop signal is gone).
async fn stopped(stopping: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not Send: drop it here.
    let _ = stopping.wait_for(|stopping| *stopping).await.map(|_| ());
}

/// Why a watcher stops.
enum Failure {
    /// Its client went away.
    Gone,
    /// Reading failed; the client is told.
    Error(Error),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Error(error)
    }
}
