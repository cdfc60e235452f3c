//! Every service the server answers with, built once at start on one
//! store, with their background jobs and their caches hooked to the change
//! feed.

use std::sync::Arc;

use crate::access::ApiKeys;
use crate::access::gate::Gate;
use crate::access::jwt::Issuers;
use crate::access::source::TrustedProxies;
use crate::config::configs::Configs;
use crate::config::schema::ConfigSchema;
use crate::error::{Error, FieldViolation, Result};
use crate::events::Webhooks;
use crate::flags::directory::Flags;
use crate::quota::limiter::Limiter;
use crate::quota::plans::Plans;
use crate::quota::quotas::Quotas;
use crate::server::jobs;
use crate::server::tenants::{PROVISIONING_CONCURRENCY, with_provisioning};
use crate::settings::Config;
use crate::slo::{CallLog, ServiceLevels};
use crate::store::Store;
use crate::tenancy::dns::DnsTxtResolver;
use crate::tenancy::tenants::{TenantSettings, Tenants};
use crate::usage::alerts::{Alerts, UsageChanges};
use crate::usage::event::UsageSettings;
use crate::usage::export::Exports;
use crate::usage::ingest::Usage;
use crate::usage::metrics::Metrics;
use crate::usage::rollups::{RetentionSettings, Rollups};

/// Background tasks, aborted at shutdown.
pub(super) type Tasks = Vec<tokio::task::JoinHandle<()>>;

/// Every service the server answers with.
pub(super) struct Services {
    /// The tenant directory.
    pub(super) tenants: Tenants,
    /// The tenants' API keys.
    pub(super) api_keys: ApiKeys,
    /// Who may call what, for every handler and the tenant context layer.
    pub(super) gate: Gate,
    /// Quota plans.
    pub(super) plans: Plans,
    /// Tenants' configurations.
    pub(super) configs: Configs,
    /// Feature flags.
    pub(super) flags: Flags,
    /// Quota checks and charges.
    pub(super) quotas: Quotas,
    /// Usage metric definitions.
    pub(super) metrics: Metrics,
    /// Usage ingestion.
    pub(super) usage: Usage,
    /// Usage exports.
    pub(super) exports: Exports,
    /// This replica's counts of every tenant's calls.
    pub(super) call_log: CallLog,
    /// Per-tenant service levels, this replica's counts included.
    pub(super) service_levels: ServiceLevels,
    /// Webhook endpoints and their deliveries.
    pub(super) webhooks: Webhooks,
}

impl Services {
    /// Builds every service on `store`, starts their background jobs (added
    /// to `tasks`) and hooks their caches to the change feed.
    pub(super) async fn start(config: &Config, store: &Store, tasks: &mut Tasks) -> Result<Self> {
        let tenants = directory(config, store).await?;
        tasks.push(jobs::provisioning::spawn(
            tenants.clone(),
            config.tenant_jobs_interval,
        ));
        let limiter = limiter(config).await?;
        let plans = Plans::new(store.clone());
        let configs = Configs::new(
            store.clone(),
            tenants.clone(),
            config_schema(config.config_schema_file.as_deref())?,
            config.cache_ttl,
        );
        let api_keys = ApiKeys::new(store.clone(), tenants.clone());
        let gate = Gate::new(
            tenants.clone(),
            api_keys.clone(),
            &config.admin_tokens,
            &config.service_tokens,
            config.cache_ttl,
            TrustedProxies::new(config.trusted_proxies.clone()),
            Issuers::new(config.jwt_issuers.clone())?,
        );
        let metrics = Metrics::new(store.clone());
        let usage = Usage::new(
            store.clone(),
            metrics.clone(),
            gate.clone(),
            UsageSettings::default(),
        );
        let exports = Exports::new(store.clone(), UsageSettings::default());
        let quotas = Quotas::new(
            tenants.clone(),
            plans.clone(),
            store.clone(),
            limiter,
            (usage.clone(), config.cache_ttl),
        );
        spawn_usage_jobs(config, store, &quotas, tasks);
        store.listen_for_changes().await?;
        let flags = Flags::new(store.clone(), tenants.clone(), config.cache_ttl);
        let call_log = CallLog::new();
        let service_levels = ServiceLevels::serving(store.clone(), plans.clone(), call_log.clone());
        let webhooks = Webhooks::new(store.clone(), config.webhooks.policy.clone());
        tasks.extend(crate::events::webhooks::worker::spawn(
            store.clone(),
            config.webhooks.clone(),
        )?);
        let services = Self {
            tenants,
            api_keys,
            gate,
            plans,
            configs,
            flags,
            quotas,
            metrics,
            usage,
            exports,
            call_log,
            service_levels,
            webhooks,
        };
        services.follow_changes(store);
        Ok(services)
    }

    /// Hooks every cache to the change feed. Synchronous, so a write's own
    /// replica serves its caller's next call without what the write made
    /// wrong.
    fn follow_changes(&self, store: &Store) {
        let (gate, quotas, configs, flags) = (
            self.gate.clone(),
            self.quotas.clone(),
            self.configs.clone(),
            self.flags.clone(),
        );
        store.on_change(move |change| {
            gate.invalidate(change);
            quotas.invalidate(change);
            configs.invalidate(change);
            flags.invalidate(change);
        });
    }
}

/// The tenant directory, provisioning SCHEMA tenants on PostgreSQL.
async fn directory(config: &Config, store: &Store) -> Result<Tenants> {
    let resolver = Arc::new(DnsTxtResolver::new(config.dns_resolver)?);
    let settings = TenantSettings {
        purge_after: config.purge_after,
        base_domain: config.base_domain.clone(),
        domain_claim_ttl: config.domain_claim_ttl,
    };
    with_provisioning(
        Tenants::new(store.clone(), settings, resolver),
        store,
        &config.migration_database_url,
        (
            config.tenant_template_dir.as_deref(),
            PROVISIONING_CONCURRENCY,
            config.provisioning_fault,
        ),
    )
    .await
}

/// The quota counters: Redis when configured, else this process.
async fn limiter(config: &Config) -> Result<Arc<dyn Limiter>> {
    crate::quota::limiter::connect(
        config.redis_url.as_deref(),
        config.redis_cluster,
        config.redis_failure,
        config.limiter_fault,
    )
    .await
}

/// The usage jobs: quota alerts on what ingestion changed, the recording
/// of quota thresholds calls reached, and the aggregation of events into
/// daily rollups.
fn spawn_usage_jobs(config: &Config, store: &Store, quotas: &Quotas, tasks: &mut Tasks) {
    let usage_changes = UsageChanges::default();
    tasks.push(tokio::spawn(
        Alerts::new(quotas.clone(), store.clone()).watch(usage_changes.clone()),
    ));
    tasks.push(tokio::spawn(quotas.crossings().watch(store.clone())));
    let retention = RetentionSettings {
        usage: UsageSettings::default(),
        retention: config.usage_event_retention,
    };
    let rollups = Rollups::new(store.clone(), retention, usage_changes);
    tasks.push(jobs::usage_aggregation::spawn(
        rollups,
        config.usage_aggregation_interval,
    ));
}

/// The configuration schema: the operator's file, else the shipped one.
fn config_schema(file: Option<&std::path::Path>) -> Result<ConfigSchema> {
    let Some(path) = file else {
        return ConfigSchema::shipped();
    };
    let text = std::fs::read_to_string(path).map_err(|error| {
        Error::InvalidArgument(vec![FieldViolation::new(
            "--config-schema-file",
            format!("cannot be read from {}: {error}", path.display()),
        )])
    })?;
    ConfigSchema::parse(&text, "--config-schema-file")
}
