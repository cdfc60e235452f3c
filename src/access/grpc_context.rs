//! The one way a handler reaches the tenant context the layer admitted the
//! call with.

use tonic::{Request, Status};

use crate::access::caller::TenantContext;

/// The call's [`TenantContext`]. Its absence is a server bug (the layer
/// was not installed), answered INTERNAL rather than served unchecked.
pub fn context<T>(request: &Request<T>) -> Result<TenantContext, Status> {
    request
        .extensions()
        .get::<TenantContext>()
        .cloned()
        .ok_or_else(|| {
            crate::error::Error::internal("a call reached a handler without a tenant context")
                .into_status()
        })
}
