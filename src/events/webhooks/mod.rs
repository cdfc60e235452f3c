//! Webhooks: lifecycle events posted to HTTP endpoints, signed as the
//! Standard Webhooks specification asks, in order per endpoint and
//! subject, retried with backoff for a retry window, then dead-lettered.
//!
//! - [`endpoint`]: endpoints, deliveries and attempts, their names and a
//!   new endpoint's checks;
//! - [`signing`]: secrets and the `webhook-signature` header;
//! - [`ssrf`]: which addresses may be posted to, at creation and at every
//!   connection;
//! - [`backoff`]: when a failed delivery is tried again;
//! - [`store`]: the SQL callers reach; [`queue`]: the worker's SQL;
//! - [`send`]: one HTTP attempt; [`worker`]: the replica's delivery loop.
//!
//! Invariants: a secret is shown once, at creation, and is never logged,
//! audited or put in an error; a tenant's endpoint receives only its
//! tenant's events; delivery is at least once, every repeat carrying the
//! event's id as `webhook-id`.

pub mod backoff;
pub mod endpoint;
pub mod queue;
pub mod send;
pub mod signing;
pub mod ssrf;
pub mod store;
pub mod worker;

use std::time::Duration;

use uuid::Uuid;

use crate::common::ids::TenantId;
use crate::error::Result;
use crate::events::webhooks::endpoint::{Delivery, DeliveryState, Endpoint, NewEndpoint};
use crate::events::webhooks::signing::SigningSecret;
use crate::events::webhooks::ssrf::TargetPolicy;
use crate::store::Store;
use crate::store::audit::Origin;
use crate::store::scope::Scope;

/// How webhooks are delivered (validated by `settings`).
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookSettings {
    /// Where posts may go.
    pub policy: TargetPolicy,
    /// How long a delivery is retried before it is dead-lettered.
    pub retry_window: Duration,
    /// The delay after the first failure; each next one doubles.
    pub backoff_base: Duration,
    /// The longest delay between attempts.
    pub backoff_max: Duration,
    /// How long one attempt may take.
    pub timeout: Duration,
    /// How long a replica's claim on an endpoint lasts unrenewed.
    pub lease: Duration,
    /// How often the worker looks for work.
    pub poll_interval: Duration,
    /// Most endpoints this replica delivers to at once.
    pub concurrency: usize,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            policy: TargetPolicy::default(),
            retry_window: Duration::from_secs(24 * 3600),
            backoff_base: Duration::from_secs(5),
            backoff_max: Duration::from_secs(3600),
            timeout: Duration::from_secs(10),
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_secs(1),
            concurrency: 32,
        }
    }
}

/// Webhook endpoints and their deliveries, as callers manage them.
#[derive(Clone)]
pub struct Webhooks {
    /// Where they are kept.
    store: Store,
    /// Where endpoints may point.
    policy: TargetPolicy,
}

impl Webhooks {
    /// Endpoints on `store`, their URLs held to `policy`.
    pub fn new(store: Store, policy: TargetPolicy) -> Self {
        Self { store, policy }
    }

    /// The store's page tokens.
    pub fn page_tokens(&self) -> &crate::common::paging::PageTokens {
        self.store.page_tokens()
    }

    /// Creates an endpoint of `owner` once its URL's addresses are
    /// admitted; answers it with its secret, shown this once.
    pub async fn create(
        &self,
        scope: Scope,
        origin: &Origin,
        owner: Option<TenantId>,
        new: NewEndpoint,
    ) -> Result<(Endpoint, SigningSecret)> {
        let field = "webhook_endpoint.url";
        let host = new.url.host_str().unwrap_or_default().to_owned();
        let port = new.url.port_or_known_default().unwrap_or(443);
        self.policy.resolve(&host, port, field).await?;
        let secret = SigningSecret::generate()?;
        let endpoint = self
            .store
            .create_webhook_endpoint(scope, origin, owner, new, &secret)
            .await?;
        Ok((endpoint, secret))
    }

    /// The endpoint `id` of `owner`.
    pub async fn get(
        &self,
        scope: Scope,
        owner: Option<TenantId>,
        id: Uuid,
    ) -> Result<Option<Endpoint>> {
        self.store.webhook_endpoint(scope, owner, id).await
    }

    /// Up to `limit` endpoints of `owner` after `after`.
    pub async fn list(
        &self,
        scope: Scope,
        owner: Option<TenantId>,
        after: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<Endpoint>> {
        self.store
            .webhook_endpoints(scope, owner, after, limit)
            .await
    }

    /// Deletes the endpoint `id` of `owner`; `false` when there was none.
    pub async fn delete(
        &self,
        scope: Scope,
        origin: &Origin,
        owner: Option<TenantId>,
        id: Uuid,
    ) -> Result<bool> {
        self.store
            .delete_webhook_endpoint(scope, origin, owner, id)
            .await
    }

    /// Up to `limit` deliveries of an endpoint before `before`.
    pub async fn deliveries(
        &self,
        scope: Scope,
        endpoint: (Option<TenantId>, Uuid),
        state: Option<DeliveryState>,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<Delivery>> {
        self.store
            .webhook_deliveries(scope, endpoint, state, before, limit)
            .await
    }

    /// Sends a delivery that is no longer pending again.
    pub async fn redeliver(
        &self,
        scope: Scope,
        origin: &Origin,
        endpoint: (Option<TenantId>, Uuid),
        sequence: i64,
    ) -> Result<Option<Delivery>> {
        self.store
            .redeliver_webhook(scope, origin, endpoint, sequence)
            .await
    }
}
