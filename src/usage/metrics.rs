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
use crate::error::{Error, Result};
use crate::store::audit::{AuditRecord, Origin};
use crate::store::idempotency;
use crate::store::idempotency::IdempotencyEntry;
use crate::store::scope::Scope;
use crate::store::{REQUEST_ID_IN_USE, Store};
use crate::tenancy::{now, snapshot};
use crate::usage::metric::{Metric, MetricPatch, NewMetric};

/// The idempotency scope and audit action of metric creation.
const CREATE_SCOPE: &str = "CreateMetric";

/// The metric catalogue; cheap to clone.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// Where metrics are stored.
    store: Store,
}

fn audit(
    origin: &Origin,
    action: &'static str,
    metric: &Metric,
    before: Option<serde_json::Value>,
) -> Result<AuditRecord> {
    let after = Some(snapshot(metric)?);
    Ok(AuditRecord::platform(
        origin,
        action,
        metric.resource_name(),
        before,
        after,
    ))
}

fn not_found(key: &str) -> Error {
    Error::NotFound {
        kind: "metric",
        name: format!("metrics/{key}"),
    }
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
            &new.display_name,
            &new.description,
            &new.unit,
            new.aggregation.as_str(),
            &new.unique_dimension,
        ]);
        if let Some(request_id) = request_id
            && let Some(entry) = self.entry(platform, request_id).await?
        {
            return self.replay(&entry, &fingerprint).await;
        }
        let now = now();
        let metric = Metric {
            key: new.key,
            display_name: new.display_name,
            description: new.description,
            unit: new.unit,
            aggregation: new.aggregation,
            unique_dimension: new.unique_dimension,
            revision: 1,
            create_time: now,
            update_time: now,
        };
        let entry = request_id.map(|request_id| IdempotencyEntry {
            scope: CREATE_SCOPE,
            request_id,
            fingerprint: fingerprint.clone(),
            resource: metric.resource_name(),
        });
        let record = audit(origin, CREATE_SCOPE, &metric, None)?;
        match self
            .store
            .insert_metric(platform.into(), &metric, entry.as_ref(), record)
            .await
        {
            Ok(()) => Ok(metric),
            // A concurrent retry of the same request won the race.
            Err(Error::AlreadyExists { reason, .. }) if reason == REQUEST_ID_IN_USE => {
                match self.entry(platform, request_id.unwrap_or_default()).await? {
                    Some(entry) => self.replay(&entry, &fingerprint).await,
                    None => Err(idempotency::in_flight()),
                }
            }
            Err(other) => Err(other),
        }
    }

    async fn entry(
        &self,
        platform: &PlatformScope,
        request_id: Uuid,
    ) -> Result<Option<IdempotencyEntry>> {
        self.store
            .find_idempotency_entry(platform.into(), CREATE_SCOPE, request_id)
            .await
    }

    async fn replay(&self, entry: &IdempotencyEntry, fingerprint: &str) -> Result<Metric> {
        idempotency::check_same_request(entry, fingerprint)?;
        self.get(entry.resource.trim_start_matches("metrics/"))
            .await
    }

    /// The metric `key`; NOT_FOUND when there is none.
    pub async fn get(&self, key: &str) -> Result<Metric> {
        self.store
            .find_metrics(catalogue(), &[key])
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| not_found(key))
    }

    /// The metrics of `keys` that exist, ordered by key.
    pub async fn find(&self, keys: &[&str]) -> Result<Vec<Metric>> {
        self.store.find_metrics(catalogue(), keys).await
    }

    /// Every metric, ordered by key.
    pub async fn all(&self) -> Result<Vec<Metric>> {
        self.store.list_metrics(catalogue(), None, None).await
    }

    /// One page of metrics ordered by key, and the next page token.
    pub async fn list(&self, page_size: u64, page_token: &str) -> Result<(Vec<Metric>, String)> {
        let fingerprint = paging::query_fingerprint(&["metrics"]);
        let after = self
            .store
            .page_tokens()
            .decode(page_token, &fingerprint, "page_token")?;
        let rows = self
            .store
            .list_metrics(catalogue(), after.as_deref(), Some(page_size + 1))
            .await?;
        Ok(self
            .store
            .page_tokens()
            .cut_page(rows, page_size, &fingerprint, |metric| metric.key.clone()))
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
        current.check_etag(etag)?;
        let mut next = current.clone();
        if let Some(display_name) = patch.display_name {
            next.display_name = display_name;
        }
        if let Some(description) = patch.description {
            next.description = description;
        }
        if let Some(unit) = patch.unit {
            next.unit = unit;
        }
        next.revision += 1;
        next.update_time = now();
        let record = audit(origin, "UpdateMetric", &next, Some(snapshot(&current)?))?;
        let replaced = self
            .store
            .replace_metric(platform.into(), current.revision, &next, record)
            .await?;
        if !replaced {
            return Err(Error::changed_meanwhile(&next.resource_name()));
        }
        Ok(next)
    }
}
