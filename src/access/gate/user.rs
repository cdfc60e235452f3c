//! End users: a JWT of a trusted issuer becomes a `user` caller of the
//! tenant its claim names (see [`crate::access::jwt`]).

use chrono::{DateTime, Utc};

use crate::access::caller::Caller;
use crate::access::gate::Gate;
use crate::access::resolve::{ResolveTarget, not_found};
use crate::error::Result;

/// Whether `token` has a JWT's shape: three dot-separated parts.
pub(super) fn is_jwt(token: &str) -> bool {
    token.bytes().filter(|byte| *byte == b'.').count() == 2
}

impl Gate {
    /// The user `token` is and when the token expires; a tenant claim
    /// naming a deleted or unknown tenant is NOT_FOUND, as for a key.
    pub(super) async fn authenticate_user(
        &self,
        token: &str,
    ) -> Result<(Caller, Option<DateTime<Utc>>)> {
        let user = self.inner.issuers.verify(token).await?;
        let target = ResolveTarget::from(&user.tenant);
        let (tenant_id, _) = self
            .find_live(&target)
            .await?
            .map(|(tenant, by)| (tenant.id, by))
            .ok_or_else(|| not_found(&target))?;
        let caller = Caller::User {
            tenant_id,
            subject: user.subject,
            scopes: user.scopes,
        };
        Ok((caller, user.expire_time))
    }
}
