//! The metric catalogue: create, read, list and update metrics, audited.
//!
//! Metrics are global (no tenant rows): operators change them through a
//! [`PlatformScope`], with audit records that name no tenant. Reads need no
//! tenant either: the access table decides who may read the catalogue, and
//! ingestion reads it for every tenant, so reads run in tenantd's own
//! platform scope.

use uuid::Uuid;

use crate::access::PlatformScope;
use crate::common::paging;
use crate::error::Result;
use crate::store::Store;
use crate::store::audit::Origin;
use crate::store::revision;
use crate::store::revision::Stamps;
use crate::store::revision::Update;
use crate::store::scope::Scope;
use crate::tenancy::now;
use crate::usage::metric::{Metric, MetricPatch, NewMetric};

/// The idempotency scope and audit action of metric creation.
const CREATE_SCOPE: &str = "CreateMetric";

/// The metric catalogue; cheap to clone.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// Where metrics are stored.
    store: Store,
}

/// The scope catalogue reads run in.
fn catalogue() -> Scope {
    Scope::from(&PlatformScope::system())
}

impl Metrics {
    /// The catalogue stored in `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Creates a metric, or returns the one a previous call with the same
    /// request id created.
    pub async fn create(
        &self,
        platform: &PlatformScope,
        origin: &Origin,
        new: NewMetric,
        request_id: Option<Uuid>,
    ) -> Result<Metric> {
        let fingerprint = paging::query_fingerprint(&[
            &new.key,
            &new.spec.display_name,
            &new.spec.description,
            &new.spec.unit,
            new.spec.aggregation.as_str(),
            &new.spec.unique_dimension,
        ]);
        let metric = Metric {
            key: new.key,
            spec: new.spec,
            stamps: Stamps::first(now()),
        };
        self.store
            .idempotent(platform.into(), CREATE_SCOPE, request_id, fingerprint)
            .insert(origin, metric, Store::insert_stored)
            .await
    }

    /// The metric `key`; NOT_FOUND when there is none.
    pub async fn get(&self, key: &str) -> Result<Metric> {
        self.store.get_stored(catalogue(), key).await
    }

    /// The metrics of `keys` that exist, ordered by key.
    pub async fn find(&self, keys: &[&str]) -> Result<Vec<Metric>> {
        self.store.find_metrics(catalogue(), keys).await
    }

    /// Every metric, ordered by key.
    pub async fn all(&self) -> Result<Vec<Metric>> {
        self.store
            .list_stored::<Metric>(catalogue(), None::<&str>, None)
            .await
    }

    /// One page of metrics ordered by key, and the next page token.
    pub async fn list(&self, page_size: u64, page_token: &str) -> Result<(Vec<Metric>, String)> {
        self.store
            .page_stored(catalogue(), page_size, page_token)
            .await
    }

    /// Applies `patch` to metric `key` if it still has `etag` (when given).
    pub async fn update(
        &self,
        platform: &PlatformScope,
        origin: &Origin,
        key: &str,
        etag: Option<&str>,
        patch: MetricPatch,
    ) -> Result<Metric> {
        let current = self.get(key).await?;
        let change = async |_: &Metric, next: &mut Metric| {
            revision::patch(&mut next.spec.display_name, patch.display_name);
            revision::patch(&mut next.spec.description, patch.description);
            revision::patch(&mut next.spec.unit, patch.unit);
            Ok(())
        };
        let update = Update::new(&self.store, platform.into(), origin, "UpdateMetric", etag);
        update
            .apply((current, now()), change, Store::replace_stored)
            .await
    }
}
