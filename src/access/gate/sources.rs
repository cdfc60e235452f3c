//! Whether a tenant's key or user calls from the tenant's allowed source
//! ranges (see [`crate::access::source`] for how the address is told).

use crate::access::gate::{Call, Gate};
use crate::error::{Error, Result};
use crate::tenancy::Tenant;

impl Gate {
    /// A tenant's keys call only from its allowed source ranges; a call
    /// whose source cannot be told is refused when there are any.
    pub(super) fn check_source(&self, tenant: &Tenant, call: &Call<'_>) -> Result<()> {
        let ranges = &tenant.allowed_source_ranges;
        if ranges.is_empty() {
            return Ok(());
        }
        match self.inner.trusted_proxies.source(call.peer, call.headers) {
            Some(source) if ranges.allows(source) => Ok(()),
            source => Err(Error::PermissionDenied {
                reason: "SOURCE_ADDRESS_NOT_ALLOWED",
                message: format!(
                    "tenant {} accepts calls only from its allowed source ranges, not from {}",
                    tenant.id.resource_name(),
                    source.map_or_else(|| "an unknown address".to_owned(), |a| a.to_string())
                ),
            }),
        }
    }
}
