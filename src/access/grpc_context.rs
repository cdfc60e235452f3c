//! The one way a handler reaches the tenant context the layer admitted the
//! call with.

use tonic::{Request, Status};

use crate::access::caller::{PlatformScope, TenantContext};

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

/// The call's [`TenantContext`] and its body: the first step of every
/// handler that reads its body.
pub fn open<T>(request: Request<T>) -> Result<(TenantContext, T), Status> {
    let context = context(&request)?;
    Ok((context, request.into_inner()))
}

/// The body of a call that acts across tenants, with the caller's
/// [`PlatformScope`] (operators alone have one) and its context.
pub fn open_platform<T>(request: Request<T>) -> Result<(PlatformScope, TenantContext, T), Status> {
    let (context, body) = open(request)?;
    Ok((context.platform()?, context, body))
}
