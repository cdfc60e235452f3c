//! Exporting daily rollups for billing: every tenant's (or some tenants')
//! rollups over a range of days, in chunks, resumable.
//!
//! Invariants kept here:
//! - rollups come in one total order, (tenant id, metric, day), so a chunk
//!   boundary is a cursor and an export resumed after it neither repeats
//!   nor skips a rollup that existed when it started;
//! - a resume token carries the cursor and a fingerprint of the export's
//!   tenants, metrics and days, so it is refused by an export of anything
//!   else;
//! - tenants are named by id only from here on: deleted tenants that had
//!   usage are exported too, since billing still owes them.

use chrono::{DateTime, NaiveDate, Utc};

use crate::access::PlatformScope;
use crate::common::ids::TenantId;
use crate::common::paging::{PageTokens, query_fingerprint};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::scope::Scope;
use crate::usage::event::UsageSettings;
use crate::usage::metric::Metric;
use crate::usage::metrics::Metrics;
use crate::usage::query::named_metrics;
use crate::usage::query::{DailyRollup, Granularity, check_range};

/// Most rollups in one chunk.
pub const EXPORT_CHUNK_ROLLUPS: u64 = 1000;
/// Most tenants one export names.
pub const MAX_EXPORT_TENANTS: usize = 1000;

/// A validated export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportQuery {
    /// The tenants; every tenant when empty.
    pub tenants: Vec<TenantId>,
    /// Metric keys; every metric when empty.
    pub metrics: Vec<String>,
    /// The first day.
    pub start_day: NaiveDate,
    /// The last day, included.
    pub end_day: NaiveDate,
}

impl ExportQuery {
    /// Checks the bounds: at most [`MAX_EXPORT_TENANTS`] tenants and
    /// [`MAX_DAY_SPAN`](crate::usage::query::MAX_DAY_SPAN) days after the first.
    pub fn new(
        mut tenants: Vec<TenantId>,
        mut metrics: Vec<String>,
        days: (NaiveDate, NaiveDate),
    ) -> Result<Self> {
        if tenants.len() > MAX_EXPORT_TENANTS {
            return Err(Error::invalid_field(
                "tenants",
                format!("must name at most {MAX_EXPORT_TENANTS} tenants"),
            ));
        }
        check_range(days.0, days.1, Granularity::Day)?;
        tenants.sort();
        tenants.dedup();
        metrics.sort();
        metrics.dedup();
        Ok(Self {
            tenants,
            metrics,
            start_day: days.0,
            end_day: days.1,
        })
    }

    /// What a resume token of this export is tied to.
    fn fingerprint(&self) -> String {
        let tenants: Vec<String> = self.tenants.iter().map(ToString::to_string).collect();
        let start = self.start_day.to_string();
        let end = self.end_day.to_string();
        let mut parts: Vec<&str> = vec!["usage-export", &start, &end, "tenants"];
        parts.extend(tenants.iter().map(String::as_str));
        parts.push("metrics");
        parts.extend(self.metrics.iter().map(String::as_str));
        query_fingerprint(&parts)
    }
}

/// Where an export stands: the last rollup sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportCursor {
    /// Its tenant.
    pub tenant_id: TenantId,
    /// Its metric key.
    pub metric: String,
    /// Its day.
    pub day: NaiveDate,
}

impl ExportCursor {
    fn encode(&self) -> String {
        format!("{} {} {}", self.tenant_id, self.metric, self.day)
    }

    fn decode(text: &str, field: &str) -> Result<Self> {
        let invalid =
            || Error::invalid_field(field, "is not a resume token issued by this service");
        let mut parts = text.split(' ');
        let (Some(tenant), Some(metric), Some(day), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        Ok(Self {
            tenant_id: TenantId::parse(tenant, field).map_err(|_| invalid())?,
            metric: metric.to_owned(),
            day: NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|_| invalid())?,
        })
    }

    /// Reads `token` issued for `query` and signed with `tokens`' key:
    /// `None` to start at the beginning.
    pub fn from_token(
        tokens: &PageTokens,
        token: &str,
        query: &ExportQuery,
        field: &str,
    ) -> Result<Option<Self>> {
        tokens
            .decode(token, &query.fingerprint(), field)?
            .map(|text| Self::decode(&text, field))
            .transpose()
    }

    /// The token to resume `query` after this rollup, signed with `tokens`.
    pub fn token(&self, tokens: &PageTokens, query: &ExportQuery) -> String {
        tokens.encode(&self.encode(), &query.fingerprint())
    }
}

/// A stored rollup with its tenant and last change, as storage reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRollup {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The rollup.
    pub rollup: DailyRollup,
    /// When it last changed.
    pub update_time: DateTime<Utc>,
}

/// One exported rollup.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportedRollup {
    /// The stored rollup.
    pub stored: StoredRollup,
    /// The metric's unit.
    pub unit: String,
    /// No event can change the value any more.
    pub closed: bool,
}

/// One chunk of an export.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportChunk {
    /// The rollups, in export order.
    pub rollups: Vec<ExportedRollup>,
    /// Where the export stands after this chunk; `None` while nothing was
    /// sent.
    pub cursor: Option<ExportCursor>,
    /// Nothing follows this chunk.
    pub last: bool,
}

/// Reads exports; cheap to clone.
#[derive(Clone)]
pub struct Exports {
    /// Where rollups are read.
    store: Store,
    /// The catalogue, for units.
    metrics: Metrics,
    /// The acceptance window, which says which days are closed.
    settings: UsageSettings,
}

impl Exports {
    /// Exports from `store`, with `settings`' acceptance window.
    pub fn new(store: Store, settings: UsageSettings) -> Self {
        Self {
            metrics: Metrics::new(store.clone()),
            store,
            settings,
        }
    }

    /// What signs and checks resume tokens.
    pub fn page_tokens(&self) -> &PageTokens {
        self.store.page_tokens()
    }

    /// The metrics an export reads: the named ones (each must exist), or
    /// the whole catalogue.
    async fn export_metrics(&self, query: &ExportQuery) -> Result<Vec<Metric>> {
        named_metrics(&self.metrics, &query.metrics).await
    }

    /// The chunk of `query` after `cursor`: at most [`EXPORT_CHUNK_ROLLUPS`]
    /// rollups of `metrics`.
    async fn chunk(
        &self,
        platform: &PlatformScope,
        query: &ExportQuery,
        metrics: &[Metric],
        cursor: Option<&ExportCursor>,
    ) -> Result<ExportChunk> {
        let now = Utc::now();
        let keys: Vec<&str> = metrics.iter().map(|metric| metric.key.as_str()).collect();
        let rows = self
            .store
            .export_rollups(
                Scope::from(platform),
                query,
                &keys,
                cursor,
                EXPORT_CHUNK_ROLLUPS,
            )
            .await?;
        let last = rows.last().map(|last| ExportCursor {
            tenant_id: last.tenant_id,
            metric: last.rollup.metric.clone(),
            day: last.rollup.day,
        });
        let full = rows.len() as u64 == EXPORT_CHUNK_ROLLUPS;
        let rollups = rows
            .into_iter()
            .map(|stored| {
                let unit = metrics
                    .iter()
                    .find(|metric| metric.key == stored.rollup.metric)
                    .map(|metric| metric.spec.unit.clone())
                    .unwrap_or_default();
                let closed = self.settings.is_closed(stored.rollup.day, now);
                ExportedRollup {
                    stored,
                    unit,
                    closed,
                }
            })
            .collect();
        Ok(ExportChunk {
            rollups,
            cursor: last.or_else(|| cursor.cloned()),
            last: !full,
        })
    }

    /// Opens `query` after `cursor` (from its start when `None`): a reader
    /// that gives the chunks one by one, reading each when asked.
    pub async fn open(
        &self,
        query: ExportQuery,
        cursor: Option<ExportCursor>,
    ) -> Result<ExportReader> {
        let metrics = self.export_metrics(&query).await?;
        Ok(ExportReader {
            exports: self.clone(),
            query,
            metrics,
            cursor,
            done: false,
        })
    }
}

/// An open export: gives its chunks in order.
pub struct ExportReader {
    /// Where chunks are read.
    exports: Exports,
    /// What is exported.
    query: ExportQuery,
    /// The metrics exported, for units.
    metrics: Vec<Metric>,
    /// The last rollup given.
    cursor: Option<ExportCursor>,
    /// The last chunk was given.
    done: bool,
}

impl ExportReader {
    /// The next chunk, read now; `None` after the last. An export with
    /// nothing to give gives one empty chunk.
    pub async fn next(&mut self, platform: &PlatformScope) -> Result<Option<ExportChunk>> {
        if self.done {
            return Ok(None);
        }
        let chunk = self
            .exports
            .chunk(platform, &self.query, &self.metrics, self.cursor.as_ref())
            .await?;
        self.cursor.clone_from(&chunk.cursor);
        self.done = chunk.last;
        Ok(Some(chunk))
    }

    /// The token that resumes this export after what was given so far;
    /// empty while nothing was.
    pub fn resume_token(&self) -> String {
        self.cursor
            .as_ref()
            .map(|cursor| cursor.token(self.exports.page_tokens(), &self.query))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::query::MAX_DAY_SPAN;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("day")
    }

    fn query(metrics: &[&str]) -> ExportQuery {
        ExportQuery::new(
            Vec::new(),
            metrics.iter().map(|key| (*key).to_owned()).collect(),
            (day("2026-01-01"), day("2026-01-31")),
        )
        .expect("query")
    }

    #[test]
    fn tokens_resume_only_their_own_export() {
        let cursor = ExportCursor {
            tenant_id: TenantId::from_uuid(uuid::Uuid::now_v7()),
            metric: "api.calls".to_owned(),
            day: day("2026-01-07"),
        };
        let export = query(&["api.calls"]);
        let tokens = PageTokens::random().expect("a key");
        let token = cursor.token(&tokens, &export);
        assert_eq!(
            ExportCursor::from_token(&tokens, &token, &export, "resume_token").expect("own"),
            Some(cursor)
        );
        assert!(ExportCursor::from_token(&tokens, &token, &query(&[]), "resume_token").is_err());
        assert!(ExportCursor::from_token(&tokens, "garbage", &export, "resume_token").is_err());
        let other = PageTokens::random().expect("a key");
        assert!(ExportCursor::from_token(&other, &token, &export, "resume_token").is_err());
        assert_eq!(
            ExportCursor::from_token(&tokens, "", &export, "resume_token").expect("start"),
            None
        );
    }

    #[test]
    fn the_same_export_in_another_order_is_the_same_export() {
        let left = query(&["b", "a", "a"]);
        let right = query(&["a", "b"]);
        assert_eq!(left, right);
        assert_eq!(left.fingerprint(), right.fingerprint());
    }

    #[test]
    fn exports_are_bounded() {
        let many = (0..=MAX_EXPORT_TENANTS)
            .map(|_| TenantId::from_uuid(uuid::Uuid::now_v7()))
            .collect();
        assert!(
            ExportQuery::new(many, Vec::new(), (day("2026-01-01"), day("2026-01-02"))).is_err()
        );
        let too_long = (
            day("2026-01-01"),
            day("2026-01-01") + chrono::TimeDelta::days(MAX_DAY_SPAN + 1),
        );
        assert!(ExportQuery::new(Vec::new(), Vec::new(), too_long).is_err());
    }
}
