//! Long streams (WatchConfig, WatchEvents) are admitted once, when they
//! open, but may run for hours: a tenant's key revoked or expired since,
//! or its tenant suspended or deleted since, must stop what the stream
//! sends as it stops every new call. [`Gate::while_admitted`] asks the
//! gate again every [`RECHECK`] and ends the stream with the refusal a new
//! call would get (UNAUTHENTICATED `API_KEY_REVOKED`, PERMISSION_DENIED
//! `TENANT_SUSPENDED`, NOT_FOUND).
//!
//! The check reads the gate's caches, which the change feed clears on any
//! replica's change, so it costs map lookups and no database read while
//! nothing changes. Operators' and services' tokens are the process's
//! configuration and cannot change under a stream; a user's JWT is held
//! to its tenant only (its expiry is not kept in the context).

use std::time::Duration;

use tokio::sync::mpsc;

use crate::access::caller::{Caller, TenantContext};
use crate::access::gate::Gate;
use crate::access::gate::authenticate::check_active;
use crate::common::ids::TenantRef;
use crate::error::{Error, Result};

/// How often a stream's caller is admitted again.
pub const RECHECK: Duration = Duration::from_secs(2);

impl Gate {
    /// Whether the caller `context` admitted may still be served: its key
    /// still active, its tenant still usable.
    pub async fn still_admitted(&self, context: &TenantContext) -> Result<()> {
        let tenant_id = match &context.caller {
            Caller::Admin { .. } | Caller::Service { .. } => return Ok(()),
            Caller::User { tenant_id, .. } => *tenant_id,
            Caller::Tenant {
                tenant_id,
                key_id,
                prefix,
                ..
            } => {
                let key = self
                    .key_by_prefix(prefix)
                    .await?
                    .filter(|key| key.id == *key_id)
                    .ok_or_else(|| Error::Unauthenticated {
                        reason: "API_KEY_REVOKED",
                        message: "the API key no longer exists".to_owned(),
                    })?;
                check_active(&key, chrono::Utc::now())?;
                *tenant_id
            }
        };
        self.usable_tenant(&TenantRef::Id(tenant_id)).await?;
        Ok(())
    }

    /// `items`, forwarded while the caller `context` admitted is still
    /// admitted ([`Gate::still_admitted`], asked every [`RECHECK`]); then
    /// the refusal, and the end. Streams of operators and services are
    /// answered as they are.
    pub fn while_admitted<T: Send + 'static>(
        &self,
        context: TenantContext,
        mut items: mpsc::Receiver<Result<T>>,
    ) -> mpsc::Receiver<Result<T>> {
        if matches!(
            context.caller,
            Caller::Admin { .. } | Caller::Service { .. }
        ) {
            return items;
        }
        let gate = self.clone();
        let (forward, answers) = mpsc::channel(1);
        tokio::spawn(async move {
            let mut recheck = tokio::time::interval(RECHECK);
            recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // The first tick is now; the call was just admitted.
            recheck.tick().await;
            loop {
                tokio::select! {
                    item = items.recv() => {
                        let Some(item) = item else { return };
                        if forward.send(item).await.is_err() {
                            return;
                        }
                    }
                    _ = recheck.tick() => {
                        // A failed read is not a refusal: the stream goes
                        // on and asks again at the next tick.
                        if let Err(refusal) = gate.still_admitted(&context).await
                            && is_refusal(&refusal)
                        {
                            let _ = forward.send(Err(refusal)).await;
                            return;
                        }
                    }
                    () = forward.closed() => return,
                }
            }
        });
        answers
    }
}

/// Whether `error` says the caller may no longer be served (rather than
/// that the gate could not tell).
fn is_refusal(error: &Error) -> bool {
    matches!(
        error,
        Error::Unauthenticated { .. } | Error::PermissionDenied { .. } | Error::NotFound { .. }
    )
}
