//! What the benches share: the real server on a runtime of its own (or two
//! stacks on one runtime), a channel to it, credentials, scratch stores
//! (an SQLite file, a PostgreSQL database with a login role that is neither
//! superuser nor owner, as in production), the load loops and the figures
//! they are reported in.
//!
//! One module per concern, so a bench reads as its scenarios:
//!
//! - [`server`]: [`Running`], one server on a runtime of its own;
//! - [`stacks`]: the real stack and the stack without the tenant context
//!   layer, on one shared runtime;
//! - [`database`]: [`BenchDatabase`], a fresh PostgreSQL database;
//! - [`scratch`]: an SQLite file or directory removed when dropped, and
//!   [`BenchStore`], either store;
//! - [`load`]: closed-loop blocks of calls and the baseline comparison;
//! - [`paced`]: open-loop paced calls;
//! - [`interleave`] and [`interleave_report`]: cases measured call by
//!   call and slice by slice in shuffled order, and their tables;
//! - [`calls`]: the trivial calls a measured call is compared with;
//! - [`cpu`]: CPU time per thread group, from `/proc`;
//! - [`stats`]: medians, percentiles and spreads.

#![allow(dead_code)] // Each bench uses its own part of this module.
#![allow(unused_imports)] // Each bench uses its own part of the re-exports.

pub mod calls;
pub mod cpu;
pub mod database;
pub mod interleave;
pub mod interleave_report;
pub mod load;
pub mod paced;
pub mod scratch;
pub mod server;
pub mod stacks;
pub mod stats;

use tenantd::access::named_tokens::NamedToken;
use tenantd::settings::Config;
use tonic::metadata::{Ascii, MetadataValue};

pub use database::BenchDatabase;
pub use load::{Block, Comparison, LoadOptions, compare, load_block, load_calls};
pub use scratch::{BenchStore, SqliteFile, WorkDir};
pub use server::{Running, runtime_name};
pub use stats::percentile;

/// The operator token bench servers accept.
pub const ADMIN_TOKEN: &str = "bench-admin-token-0123456789";
/// The service token bench servers accept.
pub const SERVICE_TOKEN: &str = "bench-service-token-0123456789";
/// The name of the bench server's threads, so profiles and CPU accounting
/// can tell them from the load generator's.
pub const SERVER_THREAD: &str = "tenantd-server";
/// The login role bench servers connect to PostgreSQL as.
pub const LOGIN: &str = "tenantd_bench_app";

/// `Bearer {token}` as metadata.
pub fn bearer(token: &str) -> MetadataValue<Ascii> {
    format!("Bearer {token}").parse().expect("ascii token")
}

/// `message` sent with `token`.
pub fn authorized<T>(message: T, token: &str) -> tonic::Request<T> {
    with_credential(message, bearer(token))
}

/// `message` sent with the `authorization` value `credential`.
pub fn with_credential<T>(message: T, credential: MetadataValue<Ascii>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert("authorization", credential);
    request
}

/// Installs a `tracing` subscriber with `filter` whose output is
/// discarded, so spans cost what they cost in production.
pub fn discard_traces(filter: &str) {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::sink)
        .init();
}

/// A named token with a random secret, for a server the bench configures
/// itself.
pub fn random_token(role: &str) -> NamedToken {
    NamedToken {
        name: format!("bench-{role}"),
        token: format!("bench-{role}-{}", uuid::Uuid::new_v4().simple()),
    }
}

/// Budgets the bench's load never reaches, so the bulkhead's checks run
/// on every call without refusing any.
pub const UNREACHED_BUDGET: tenantd::settings::BudgetSettings = tenantd::settings::BudgetSettings {
    max_concurrent_calls: 100_000,
    rate_per_second: 100_000_000,
};

/// `config` with the bench tokens and a budget the load never reaches.
pub fn with_tokens(mut config: Config) -> Config {
    config.tenant_budget = UNREACHED_BUDGET;
    config.admin_tokens = vec![NamedToken {
        name: "bench".into(),
        token: ADMIN_TOKEN.into(),
    }];
    config.service_tokens = vec![NamedToken {
        name: "bench-service".into(),
        token: SERVICE_TOKEN.into(),
    }];
    config
}
