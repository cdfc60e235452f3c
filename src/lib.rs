//! tenantd: the tenant control plane for a fleet of internal microservices.
//!
//! One binary serves four gRPC services (TenantService, ConfigService,
//! QuotaService, UsageService) over a control-plane database, SQLite embedded
//! or PostgreSQL, and answers what every other service asks on every request:
//! who is this tenant, may it do this, how is it configured, how much has it
//! used?
//!
//! # Layout
//!
//! One room per service, on a foundation that imports none of them; the
//! architecture test (`tests/architecture/`) reads `src/` and fails on an
//! import circle or on an import against these arrows:
//!
//! ```text
//! main.rs → cli → server → services → foundation
//!             ↘ settings ↗      (a service uses another only through its mod.rs)
//! ```
//!
//! The services, each with its rules and values, its SQL and its handlers:
//! - [`access`]: callers, tokens, API keys, tenant resolution, the method × caller table and the
//!   gate every call passes, and Envoy's external authorization, which admits a gateway's HTTP
//!   requests through the same gate.
//! - [`tenancy`]: tenants and their lifecycle, custom domains, audit reads, SCHEMA tenants'
//!   provisioning, tenant archives.
//! - [`config`]: each tenant's configuration as layers, its schema, versions and the watch.
//! - [`flags`]: feature flags, their overrides and evaluation.
//! - [`quota`]: plans, quotas, the limiter's counters (Redis or in-process), Envoy's rate limit
//!   service.
//! - [`usage`]: metrics, usage ingestion, rollups, queries, alerts and exports.
//! - [`slo`]: per-tenant service levels: each replica's counts of every tenant's calls by
//!   minute (the call sink the observing layer records into), their flush, and how a tenant's
//!   calls went over the last hour and day against its plan's objectives. Above `tenancy` and
//!   `quota`, whose tenants and plans it reads; TenantService answers GetTenantHealth from it
//!   through `tenancy::TenantHealthSource`, which the server plugs in.
//! - [`events`]: lifecycle events: the outbox's log (written by the foundation with every
//!   audited change) read and delivered as CloudEvents: WatchEvents, webhooks and NATS.
//!
//! The foundation:
//! - [`store`]: connections, [`store::scope::Scope`] and scoped transactions, the audit write
//!   and the event outbox written with it (`store::outbox`, numbered by `store::sequence`, the
//!   counter the configuration change log shares),
//!   idempotency, the etag-checked update (`store::revision`), the read and conditional-write
//!   shapes every service's SQL uses (`store::read`, `store::write`), the reads and writes of
//!   resources kept as one row (`store::stored`), job locks, the
//!   change feed and the sea-orm entities.
//! - [`rpc`]: the request codec (which refuses undecodable bytes and unstorable text), the
//!   proto conversions every service shares, update masks read one way (`rpc::mask`) and the
//!   handlers that only forward their request, written once (`rpc::forward!`).
//! - [`common`]: typed ids, validation, filters, page tokens, the cache map each owner keeps,
//!   the seam between the layer that sees every call and the rooms that count them
//!   (`common::calls`, with the latency bounds every histogram uses, `common::latency`), and
//!   what every room's spans share with OpenTelemetry (`common::otel`: W3C context in and out,
//!   gRPC code names).
//! - [`error`]: the crate's one error enum, and in `error/status.rs` its one mapping to
//!   `tonic::Status`.
//! - [`pb`]: code generated from `proto/tenantd/v1`; [`cloudevents`]: the CloudEvents protobuf
//!   format; [`envoy`]: Envoy's API (from `envoy-types`).
//!
//! On top:
//! - [`settings`]: flags and `TENANTD_*` variables, validated once into [`settings::Config`].
//! - [`server`]: the composition root, `run(config, listener, shutdown)`: the services built
//!   once, the tower stack in one file and each of our layers in its own (the tenant context
//!   layer and its bulkhead among them), TLS with its reloaded certificate and the client
//!   certificates' services (`server::tls`), and the background jobs.
//! - [`cli`]: every command `tenantd` runs, `serve` and the operator commands.
//! - [`telemetry`]: `tracing` output and OpenTelemetry export.
//! - [`fuzzing`]: the fuzz targets' entry points.
//!
//! The names follow what each room answers for; `settings` is not `config`
//! because `config` is ConfigService's room.

pub mod access;
pub mod cli;
pub mod common;
pub mod config;
pub mod error;
pub mod events;
pub mod flags;
pub mod fuzzing;
pub mod quota;
pub mod rpc;
pub mod server;
pub mod settings;
pub mod slo;
pub mod store;
pub mod telemetry;
pub mod tenancy;
pub mod usage;

/// Envoy's API as the `envoy-types` crate generates it from Envoy's own
/// protos: the rate limit and external authorization services tenantd
/// serves to Envoy and Istio gateways, and their messages.
pub use envoy_types::pb::envoy;

/// The CloudEvents 1.0 protobuf format (`io.cloudevents.v1`), which
/// EventService's stream carries.
#[allow(clippy::all, missing_docs)]
pub mod cloudevents {
    tonic::include_proto!("io.cloudevents.v1");
}

/// Code generated from `proto/tenantd/v1`.
#[allow(clippy::all, missing_docs)]
pub mod pb {
    tonic::include_proto!("tenantd.v1");

    /// The encoded descriptor set of every tenantd proto file, served by
    /// reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("tenantd_descriptor");
}
