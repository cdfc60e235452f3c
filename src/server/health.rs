//! What `grpc.health.v1.Health` answers, kept true: SERVING only while the
//! control-plane database answers and the replica is not shutting down.
//!
//! Every call needs the database, so one probe decides the status of the
//! whole server (`""`, which Kubernetes probes and most clients check) and
//! of each service alike. One task owns the status; shutdown takes the
//! same lock, so a probe that was in flight when SIGTERM came cannot turn
//! a draining replica back to SERVING.
//!
//! [`LIVENESS`] is apart: SERVING for as long as the process answers at
//! all, whatever the database or a drain, for liveness probes that must
//! restart a stuck process and never a healthy one waiting for its
//! database.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::store::Store;

/// Every service name the health service answers for: the whole server
/// and each service it serves.
pub const SERVICE_NAMES: [&str; 7] = [
    "",
    "tenantd.v1.TenantService",
    "tenantd.v1.ConfigService",
    "tenantd.v1.QuotaService",
    "tenantd.v1.UsageService",
    "envoy.service.ratelimit.v3.RateLimitService",
    "envoy.service.auth.v3.Authorization",
];

/// The service name that answers SERVING while the process runs.
pub const LIVENESS: &str = "liveness";

/// A probe that takes longer than this counts as a database that does not
/// answer: a query waiting that long would fail its caller anyway.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The health status of this replica.
#[derive(Clone)]
pub struct Health {
    /// Where statuses are published.
    reporter: HealthReporter,
    /// Whether shutdown began; held while a status is set.
    stopping: Arc<Mutex<bool>>,
}

impl Health {
    /// A replica whose every service is SERVING.
    pub async fn serving(reporter: HealthReporter) -> Self {
        set_all(&reporter, ServingStatus::Serving).await;
        reporter
            .set_service_status(LIVENESS, ServingStatus::Serving)
            .await;
        Self {
            reporter,
            stopping: Arc::new(Mutex::new(false)),
        }
    }

    /// Turns every service NOT_SERVING for good: the replica drains.
    pub async fn stop(&self) {
        let mut stopping = self.stopping.lock().await;
        *stopping = true;
        set_all(&self.reporter, ServingStatus::NotServing).await;
    }

    /// Pings the database every `interval` and publishes what it found,
    /// logging each change once.
    pub fn spawn_probe(&self, store: Store, interval: Duration) -> JoinHandle<()> {
        let health = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut was_up = true;
            loop {
                ticks.tick().await;
                let up = matches!(
                    tokio::time::timeout(PROBE_TIMEOUT, store.ping()).await,
                    Ok(Ok(()))
                );
                if up == was_up {
                    continue;
                }
                let stopping = health.stopping.lock().await;
                if *stopping {
                    return;
                }
                if up {
                    tracing::info!("the database answers again: SERVING");
                    set_all(&health.reporter, ServingStatus::Serving).await;
                } else {
                    tracing::warn!("the database does not answer: NOT_SERVING");
                    set_all(&health.reporter, ServingStatus::NotServing).await;
                }
                was_up = up;
            }
        })
    }
}

async fn set_all(reporter: &HealthReporter, status: ServingStatus) {
    for name in SERVICE_NAMES {
        reporter.set_service_status(name, status).await;
    }
}
