//! ResolveTenant by credential: a service hands over what its own caller
//! presented (a tenant API key or an end user's JWT) and learns whose it
//! is, checked as the gate checks a call.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::access::api_key::KEY_MARKER;
use crate::access::authorize::check_usable;
use crate::access::caller::Caller;
use crate::access::gate::user::is_jwt;
use crate::access::gate::{Gate, key_caller};
use crate::common::ids::TenantRef;
use crate::error::{Error, Result};
use crate::tenancy::Tenant;

/// Whose a credential is.
#[derive(Debug)]
pub struct CredentialOwner {
    /// The tenant it acts for, usable now.
    pub tenant: Arc<Tenant>,
    /// Who it is.
    pub caller: Caller,
    /// When it stops being accepted, if ever.
    pub expire_time: Option<DateTime<Utc>>,
}

impl Gate {
    /// The tenant, caller and expiry of `credential` (a tenant API key or
    /// a JWT, without `Bearer `), refused as a call with it would be, but as
    /// PERMISSION_DENIED rather than UNAUTHENTICATED: the service asking
    /// is authenticated; the credential it holds is not.
    pub async fn resolve_credential(&self, credential: &str) -> Result<CredentialOwner> {
        let is_key = credential.starts_with(KEY_MARKER)
            && credential.as_bytes().get(KEY_MARKER.len()) == Some(&b'_');
        let (caller, expire_time) = if is_key {
            let key = self.verified_key(credential).await.map_err(denied)?;
            (key_caller(&key), key.expire_time)
        } else if is_jwt(credential) && !self.inner.issuers.is_empty() {
            self.authenticate_user(credential).await.map_err(denied)?
        } else {
            return Err(Error::PermissionDenied {
                reason: "CREDENTIALS_INVALID",
                message: "the credential is neither a tenant API key nor a JWT of a trusted issuer"
                    .to_owned(),
            });
        };
        let own = caller.own_tenant().map(TenantRef::Id);
        let own = own.ok_or_else(|| Error::internal("a credential without a tenant"))?;
        let tenant = self.resolve(&(&own).into()).await?.0;
        check_usable(&tenant)?;
        Ok(CredentialOwner {
            tenant,
            caller,
            expire_time,
        })
    }
}

/// A credential's refusal, told to the service holding it.
fn denied(error: Error) -> Error {
    match error {
        Error::Unauthenticated { reason, message } => Error::PermissionDenied { reason, message },
        other => other,
    }
}
