//! Per-tenant service levels: every replica counts the calls it answers
//! per tenant and per UTC minute (requests, server-side failures, a
//! latency histogram), writes its running totals to `tenant_call_minutes`
//! every flush interval, and answers how a tenant's calls went over the
//! last hour and day, measured against the objectives of its plan
//! (GetTenantHealth, `tenantd tenants health`).
//!
//! The pieces: the in-memory [`CallLog`] the observing layer records into
//! (`call_log`), the counts and their histogram (`counts`), an objective's
//! attainment and error budget (`attainment`), the windows and
//! [`ServiceLevels`] (`health`), the flush and retention (`flush`), the
//! rows (`store`) and the proto answer (`convert`).
//!
//! Invariants kept here: recording a call never waits and never fails; a
//! replica's minute is written whole, so flushing twice counts nothing
//! twice; a tenant's answer sums every replica's stored minutes, with the
//! answering replica's own taken from memory, so it is fresh there.

pub mod attainment;
pub mod call_log;
pub mod convert;
pub mod counts;
pub mod flush;
pub mod health;
mod store;

pub use call_log::CallLog;
pub use flush::Flusher;
pub use health::{ServiceLevels, TenantHealth, WindowHealth};
