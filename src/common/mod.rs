//! Value types and checks every room shares: typed ids, validation of
//! caller input, list filters, page tokens, the latency buckets calls are
//! counted in, the OpenTelemetry conventions spans follow, and the stop
//! signal long-running loops wait for. Nothing here
//! reads the database or knows a service.

pub mod cache;
pub mod calls;
pub mod filter;
pub mod ids;
pub mod latency;
pub mod otel;
pub mod paging;
pub mod pending;
pub mod shutdown;
pub mod validate;

/// Lowercase hexadecimal of `bytes`: how digests, etags and key material
/// are spelled everywhere in tenantd.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
