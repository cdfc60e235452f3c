//! The per-tenant families, with a cardinality guard: only the `K`
//! tenants with the most recent traffic keep their own `tenant` label;
//! every other tenant's calls count under `tenant="other"`, so a fleet of
//! any size exports at most `K + 1` tenant series per family.
//!
//! The guard ranks tenants every interval by a decaying score of their
//! calls. A tenant entering the top `K` gets fresh series from then on
//! (a counter that starts at zero, which `rate()` reads as a reset); a
//! tenant leaving it loses its series at once (Prometheus marks them
//! stale) and counts under `other` again. `other` only ever grows. Until
//! the first ranking, the first `K` tenants seen take the free labels.
//!
//! Families (rendered by [`TenantMetrics::render`], after the recorder's):
//! `tenantd_tenant_requests_total`, `tenantd_tenant_errors_total` (server
//! failures, see [`CallOutcome::failed`]) and the histogram
//! `tenantd_tenant_request_duration_seconds`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::common::calls::{CallOutcome, CallSink, LATENCY_BOUNDS_SECONDS};
use crate::common::ids::TenantId;
use crate::common::latency::{LATENCY_BUCKETS, latency_bucket};

/// The label value every unranked tenant shares.
const OTHER: &str = "other";
/// Bucket counts: one per bound, and +Inf.
const BUCKETS: usize = LATENCY_BUCKETS;

/// One tenant's (or `other`'s) series.
#[derive(Debug, Clone, Default)]
struct Series {
    /// Calls.
    requests: u64,
    /// Calls that failed on the server's side.
    errors: u64,
    /// Calls per latency bucket (not cumulative).
    buckets: [u64; BUCKETS],
    /// Sum of latencies, in seconds.
    seconds: f64,
}

impl Series {
    fn add(&mut self, call: &CallOutcome<'_>) {
        let seconds = call.latency.as_secs_f64();
        self.requests = self.requests.saturating_add(1);
        if call.failed() {
            self.errors = self.errors.saturating_add(1);
        }
        let bucket = latency_bucket(call.latency);
        self.buckets[bucket] = self.buckets[bucket].saturating_add(1);
        self.seconds += seconds;
    }
}

/// What the guard knows of one tenant.
#[derive(Debug, Default)]
struct Tenant {
    /// Calls since the last ranking.
    recent: u64,
    /// Decaying traffic score the ranking orders by.
    score: f64,
    /// Its own series, while it is ranked.
    series: Option<Series>,
}

/// The guard's state.
#[derive(Debug, Default)]
struct State {
    /// Every tenant seen since it last scored nothing.
    tenants: HashMap<TenantId, Tenant>,
    /// How many of them hold a label.
    labelled: usize,
    /// Every unranked tenant's calls.
    other: Series,
}

/// The per-tenant families and their guard; a [`CallSink`].
#[derive(Debug)]
pub struct TenantMetrics {
    /// How many tenants keep their own label.
    labels: usize,
    /// Held only to count one call or to rank or render; never across an
    /// await.
    state: Mutex<State>,
}

impl TenantMetrics {
    /// A guard keeping `labels` tenants' own labels.
    pub fn new(labels: usize) -> Self {
        Self {
            labels,
            state: Mutex::new(State::default()),
        }
    }

    /// Nothing here is left half-updated by a panic: a poisoned lock's
    /// state is still counts.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Ranks tenants by recent traffic: the top `labels` keep or get their
    /// label, the rest lose it. Tenants that scored nothing are forgotten.
    pub fn rank(&self) {
        let mut state = self.state();
        for tenant in state.tenants.values_mut() {
            // Halves every interval: a tenant's past counts for a while.
            tenant.score = tenant.score / 2.0 + tenant.recent as f64;
            tenant.recent = 0;
        }
        let mut ranked: Vec<(TenantId, f64)> = state
            .tenants
            .iter()
            .filter(|(_, tenant)| tenant.score >= 0.5)
            .map(|(id, tenant)| (*id, tenant.score))
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(self.labels);
        let top: std::collections::HashSet<TenantId> =
            ranked.into_iter().map(|(id, _)| id).collect();
        let mut labelled = 0;
        for (id, tenant) in &mut state.tenants {
            if top.contains(id) {
                tenant.series.get_or_insert_with(Series::default);
                labelled += 1;
            } else {
                tenant.series = None;
            }
        }
        state.labelled = labelled;
        state
            .tenants
            .retain(|_, tenant| tenant.series.is_some() || tenant.score >= 0.5);
    }

    /// Appends the families in the Prometheus text format to `out`.
    pub fn render(&self, out: &mut String) {
        let state = self.state();
        let mut series: Vec<(String, &Series)> = state
            .tenants
            .iter()
            .filter_map(|(id, tenant)| {
                tenant
                    .series
                    .as_ref()
                    .map(|series| (id.to_string(), series))
            })
            .collect();
        series.sort_by(|a, b| a.0.cmp(&b.0));
        series.push((OTHER.to_owned(), &state.other));
        let _ = writeln!(
            out,
            "# HELP tenantd_tenant_requests_total Calls for a tenant (the top tenants by traffic by id, every other tenant as \"other\")"
        );
        let _ = writeln!(out, "# TYPE tenantd_tenant_requests_total counter");
        for (tenant, counts) in &series {
            let _ = writeln!(
                out,
                "tenantd_tenant_requests_total{{tenant=\"{tenant}\"}} {}",
                counts.requests
            );
        }
        let _ = writeln!(
            out,
            "# HELP tenantd_tenant_errors_total Calls for a tenant that failed on the server's side"
        );
        let _ = writeln!(out, "# TYPE tenantd_tenant_errors_total counter");
        for (tenant, counts) in &series {
            let _ = writeln!(
                out,
                "tenantd_tenant_errors_total{{tenant=\"{tenant}\"}} {}",
                counts.errors
            );
        }
        render_histogram(out, &series);
    }
}

/// `tenantd_tenant_request_duration_seconds` of every series.
fn render_histogram(out: &mut String, series: &[(String, &Series)]) {
    const NAME: &str = "tenantd_tenant_request_duration_seconds";
    let _ = writeln!(
        out,
        "# HELP {NAME} Time from a tenant's call's arrival to the end of its answer"
    );
    let _ = writeln!(out, "# TYPE {NAME} histogram");
    for (tenant, counts) in series {
        let mut cumulative = 0_u64;
        for (bound, count) in LATENCY_BOUNDS_SECONDS.iter().zip(counts.buckets.iter()) {
            cumulative = cumulative.saturating_add(*count);
            let _ = writeln!(
                out,
                "{NAME}_bucket{{tenant=\"{tenant}\",le=\"{bound}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "{NAME}_bucket{{tenant=\"{tenant}\",le=\"+Inf\"}} {}",
            counts.requests
        );
        let _ = writeln!(out, "{NAME}_sum{{tenant=\"{tenant}\"}} {}", counts.seconds);
        let _ = writeln!(
            out,
            "{NAME}_count{{tenant=\"{tenant}\"}} {}",
            counts.requests
        );
    }
}

impl CallSink for TenantMetrics {
    fn record(&self, call: &CallOutcome<'_>) {
        let Some(id) = call.tenant else {
            return;
        };
        let mut state = self.state();
        let free = state.labelled < self.labels;
        let State {
            tenants,
            labelled,
            other,
        } = &mut *state;
        let tenant = tenants.entry(id).or_default();
        tenant.recent = tenant.recent.saturating_add(1);
        if tenant.series.is_none() && free {
            tenant.series = Some(Series::default());
            *labelled += 1;
        }
        tenant.series.as_mut().unwrap_or(other).add(call);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn call(tenant: TenantId, code: tonic::Code) -> CallOutcome<'static> {
        CallOutcome {
            service: "tenantd.v1.TenantService",
            method: "GetTenant",
            code,
            tenant: Some(tenant),
            latency: Duration::from_millis(3),
        }
    }

    fn tenant_labels(text: &str) -> std::collections::BTreeSet<String> {
        text.lines()
            .filter(|line| line.starts_with("tenantd_tenant_requests_total{"))
            .filter_map(|line| line.split('"').nth(1).map(str::to_owned))
            .collect()
    }

    #[test]
    fn only_the_busiest_tenants_keep_their_label_and_other_only_grows() {
        let guard = TenantMetrics::new(2);
        let tenants: Vec<TenantId> = (0..50)
            .map(|_| TenantId::from_uuid(uuid::Uuid::new_v4()))
            .collect();
        for tenant in &tenants {
            guard.record(&call(*tenant, tonic::Code::Ok));
        }
        let mut text = String::new();
        guard.render(&mut text);
        assert_eq!(tenant_labels(&text).len(), 3, "{text}");
        assert!(
            text.contains("tenantd_tenant_requests_total{tenant=\"other\"} 48"),
            "{text}"
        );
        // Two tenants become the busiest; after a ranking they hold the labels.
        for _ in 0..10 {
            guard.record(&call(tenants[40], tonic::Code::Internal));
            guard.record(&call(tenants[41], tonic::Code::Ok));
        }
        guard.rank();
        for _ in 0..3 {
            guard.record(&call(tenants[40], tonic::Code::Internal));
        }
        guard.record(&call(tenants[0], tonic::Code::Ok));
        let mut text = String::new();
        guard.render(&mut text);
        let labels = tenant_labels(&text);
        let expected: std::collections::BTreeSet<String> = [
            tenants[40].to_string(),
            tenants[41].to_string(),
            OTHER.to_owned(),
        ]
        .into();
        assert_eq!(labels, expected, "{text}");
        let busiest = tenants[40];
        assert!(
            text.contains(&format!(
                "tenantd_tenant_errors_total{{tenant=\"{busiest}\"}} 3"
            )),
            "{text}"
        );
        // other: 48 first calls, 20 before the ranking, tenant 0's last call.
        assert!(
            text.contains("tenantd_tenant_requests_total{tenant=\"other\"} 69"),
            "{text}"
        );
        assert!(text.contains("le=\"0.005\"} 3"), "{text}");
    }
}
