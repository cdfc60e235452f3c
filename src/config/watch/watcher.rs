//! One WatchConfig stream: its start (a snapshot or a replay from the
//! revision the client covered), its live events from the follower's
//! entries, resyncs when it falls behind, and its end.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::{broadcast, mpsc};

use crate::access::TenantScope;
use crate::common::shutdown::stopped;
use crate::config::change::{ChangeSubject, ConfigChange};
use crate::config::layered::LayeredConfig;
use crate::config::watch::{
    ConfigWatch, PAGE, ResyncReason, WatchEvent, WatchEventKind, WatchRequest,
};
use crate::error::{Error, Result};
use crate::flags::Flag;
use crate::store::changefeed::{Change, Subscription};
use crate::store::scope::Scope;
use crate::tenancy::TenantState;

/// One WatchConfig stream.
pub(super) struct Watcher {
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
    /// A watcher of `scope`'s tenant on `service`, sending to `outbox`;
    /// it subscribes to the follower's entries here, before it reads
    /// anything.
    pub(super) fn new(
        service: ConfigWatch,
        scope: TenantScope,
        outbox: mpsc::Sender<Result<WatchEvent>>,
    ) -> Self {
        Self {
            feed: service.inner.entries.subscribe(),
            changes: service.inner.store.changes(),
            service,
            scope,
            outbox,
            plan: String::new(),
            covered: 0,
        }
    }

    /// Streams until the client goes away, the server stops or reading
    /// fails (the client is then sent the error).
    pub(super) async fn run(mut self, request: WatchRequest) {
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
