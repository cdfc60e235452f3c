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
//! - [`config`]: flags and `TENANTD_*` variables, validated once into [`config::Config`].
//! - [`telemetry`]: `tracing` output and OpenTelemetry export.
//! - [`server`]: `run(config, listener, shutdown)`; every tower layer is assembled there.
//! - [`error`]: the crate's one error enum and its one mapping to `tonic::Status`.
//! - [`middleware`]: tower layers; the tenant context layer authenticates and resolves every call
//!   and holds it to its tenant's bulkhead.
//! - [`grpc`]: one file per proto service plus proto ⇄ domain conversions; handlers are thin;
//!   requests are decoded by tenantd's codec, which refuses undecodable bytes and unstorable text.
//! - [`domain`]: typed ids, validation and business rules; no tonic, no SQL.
//! - [`storage`]: sea-orm entities and the only code that speaks SQL.
//! - [`jobs`]: background work one replica at a time does (usage aggregation, provisioning
//!   reconciliation, purge), and the operator commands built on it (template rollout,
//!   reaggregation, tenant archive files).
//! - [`provisioning`]: SCHEMA tenants' schemas, roles, tenant template and the schema data of
//!   tenant archives (PostgreSQL only).
//! - [`limiter`]: quota counters behind one trait, Redis or in-process.
//! - [`changefeed`]: change notifications across replicas (PostgreSQL `LISTEN/NOTIFY`, or in-process).
//! - [`dns`]: the resolver that verifies custom domains.
//! - [`pb`]: code generated from `proto/tenantd/v1`; [`envoy`]: Envoy's rate limit service.
//!
//! Calls flow `grpc → domain → storage`: a handler converts the request
//! (validation happens in the conversion), calls the domain, and converts the
//! answer back.

pub mod access;
pub mod cli;
pub mod common;
pub mod config;
pub mod error;
pub mod flags;
pub mod fuzzing;
pub mod quota;
pub mod rpc;
pub mod server;
pub mod settings;
pub mod store;
pub mod telemetry;
pub mod tenancy;
pub mod usage;

/// Code generated from the subset of Envoy's API in `third_party/envoy`:
/// the rate limit service tenantd serves to Envoy and Istio gateways.
#[allow(clippy::all, missing_docs)]
pub mod envoy {
    /// `envoy.config.*`
    pub mod config {
        /// `envoy.config.core`
        pub mod core {
            /// `envoy.config.core.v3`
            pub mod v3 {
                tonic::include_proto!("envoy.config.core.v3");
            }
        }
    }
    /// `envoy.extensions.*`
    pub mod extensions {
        /// `envoy.extensions.common`
        pub mod common {
            /// `envoy.extensions.common.ratelimit`
            pub mod ratelimit {
                /// `envoy.extensions.common.ratelimit.v3`
                pub mod v3 {
                    tonic::include_proto!("envoy.extensions.common.ratelimit.v3");
                }
            }
        }
    }
    /// `envoy.service.*`
    pub mod service {
        /// `envoy.service.ratelimit`
        pub mod ratelimit {
            /// `envoy.service.ratelimit.v3`
            pub mod v3 {
                tonic::include_proto!("envoy.service.ratelimit.v3");
            }
        }
    }
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
