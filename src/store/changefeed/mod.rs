//! Change notifications: every replica learns, within moments, that a
//! tenant (or one of its keys or domains) changed, so caches drop what they
//! hold about it.
//!
//! Storage announces a change in-process once it committed, so the caller's
//! next call on this replica never meets a stale cache. On PostgreSQL it
//! also sends it with `pg_notify` on [`CHANNEL`] inside the transaction,
//! which PostgreSQL delivers at commit to every listening replica. The
//! notification names the replica that sent it, and that replica skips its
//! own echo: it already dropped what the change made wrong, and dropping it
//! again a moment later would throw away answers read since, fresh ones.
//! Subscribers see the same [`Change`] stream on either backend.

mod postgres;

use std::sync::{Arc, RwLock};

use tokio::sync::broadcast;

use crate::common::ids::TenantId;

/// The PostgreSQL notification channel.
pub const CHANNEL: &str = "tenantd_changes";

/// How many changes a slow subscriber may fall behind before it is told to
/// forget everything ([`Change::Everything`]).
const BACKLOG: usize = 1024;

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The tenant, one of its keys or one of its domains.
    Tenant(TenantId),
    /// Unknown: notifications may have been missed (a lost connection, a
    /// lagging subscriber), so everything cached is suspect.
    Everything,
}

impl Change {
    /// The notification payload.
    pub fn payload(&self) -> String {
        match self {
            Change::Tenant(id) => id.to_string(),
            Change::Everything => "*".to_owned(),
        }
    }

    /// Reads a payload; anything unreadable counts as [`Change::Everything`].
    pub fn from_payload(payload: &str) -> Self {
        uuid::Uuid::parse_str(payload)
            .map(|uuid| Change::Tenant(TenantId::from_uuid(uuid)))
            .unwrap_or(Change::Everything)
    }
}

/// What runs on every change before [`ChangeFeed::publish`] returns.
type Hook = Box<dyn Fn(Change) + Send + Sync>;

/// The hooks of a feed.
#[derive(Clone, Default)]
struct Hooks(Arc<RwLock<Vec<Hook>>>);

impl std::fmt::Debug for Hooks {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Hooks")
    }
}

/// The change stream of this process; cheap to clone.
#[derive(Debug, Clone)]
pub struct ChangeFeed {
    /// Fans changes out to subscribers.
    sender: broadcast::Sender<Change>,
    /// Cache invalidations, run in the publishing task, so a change is
    /// out of every cache by the time the write that made it returns.
    hooks: Hooks,
    /// Names this feed in the notifications it sends: a UUID, spelled
    /// once.
    origin: String,
}

impl Default for ChangeFeed {
    fn default() -> Self {
        Self::new()
    }
}

impl ChangeFeed {
    /// A feed with no source yet: changes arrive through [`Self::publish`]
    /// or a PostgreSQL listener.
    pub fn new() -> Self {
        let (sender, _) = broadcast::channel(BACKLOG);
        Self {
            sender,
            hooks: Hooks::default(),
            origin: uuid::Uuid::now_v7().to_string(),
        }
    }

    /// The payload announcing `change` to the other replicas.
    pub fn notification(&self, change: Change) -> String {
        format!("{} {}", self.origin, change.payload())
    }

    /// The change a notification's `payload` announces, or `None` when this
    /// feed sent it (and so published it already). A payload naming no
    /// sender comes from elsewhere.
    fn heard(&self, payload: &str) -> Option<Change> {
        match payload.split_once(' ') {
            Some((origin, _)) if origin == self.origin => None,
            Some((_, change)) => Some(Change::from_payload(change)),
            None => Some(Change::from_payload(payload)),
        }
    }

    /// Changes from now on.
    pub fn subscribe(&self) -> Subscription {
        Subscription {
            receiver: self.sender.subscribe(),
        }
    }

    /// Runs `hook` on every change from now on, inside
    /// [`Self::publish`]: it must be quick and must not block.
    pub fn on_change(&self, hook: impl Fn(Change) + Send + Sync + 'static) {
        self.hooks
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Box::new(hook));
    }

    /// Runs the hooks on `change`, then hands it to every subscriber of
    /// this process.
    pub fn publish(&self, change: Change) {
        for hook in self
            .hooks
            .0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
        {
            hook(change);
        }
        // No subscriber is not an error: nothing is cached yet.
        let _ = self.sender.send(change);
    }

    /// Forwards PostgreSQL notifications on [`CHANNEL`] to subscribers
    /// until the pool closes. Returns once listening has started, so no
    /// change committed after it returns is missed.
    pub async fn listen_postgres(
        &self,
        pool: sea_orm::sqlx::PgPool,
    ) -> crate::error::Result<tokio::task::JoinHandle<()>> {
        postgres::listen(self.clone(), pool).await
    }
}

/// One subscriber's view of the feed.
#[derive(Debug)]
pub struct Subscription {
    /// The broadcast receiver.
    receiver: broadcast::Receiver<Change>,
}

impl Subscription {
    /// The next change; [`Change::Everything`] when this subscriber fell
    /// behind, `None` once the feed is gone.
    pub async fn next(&mut self) -> Option<Change> {
        match self.receiver.recv().await {
            Ok(change) => Some(change),
            Err(broadcast::error::RecvError::Lagged(_)) => Some(Change::Everything),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        let id = TenantId::from_uuid(uuid::Uuid::now_v7());
        assert_eq!(
            Change::from_payload(&Change::Tenant(id).payload()),
            Change::Tenant(id)
        );
        assert_eq!(Change::from_payload("*"), Change::Everything);
        assert_eq!(Change::from_payload("garbage"), Change::Everything);
    }

    #[test]
    fn a_feed_skips_only_its_own_notifications() {
        let (this, other) = (ChangeFeed::new(), ChangeFeed::new());
        let id = TenantId::from_uuid(uuid::Uuid::now_v7());
        assert_eq!(this.heard(&this.notification(Change::Tenant(id))), None);
        assert_eq!(
            this.heard(&other.notification(Change::Tenant(id))),
            Some(Change::Tenant(id))
        );
        assert_eq!(
            this.heard(&other.notification(Change::Everything)),
            Some(Change::Everything)
        );
        assert_eq!(
            this.heard(&Change::Tenant(id).payload()),
            Some(Change::Tenant(id))
        );
        assert_eq!(this.heard("garbage"), Some(Change::Everything));
    }

    #[tokio::test]
    async fn a_lagging_subscriber_is_told_to_forget_everything() {
        let feed = ChangeFeed::new();
        let mut subscription = feed.subscribe();
        let id = TenantId::from_uuid(uuid::Uuid::now_v7());
        for _ in 0..=BACKLOG {
            feed.publish(Change::Tenant(id));
        }
        assert_eq!(subscription.next().await, Some(Change::Everything));
    }
}
