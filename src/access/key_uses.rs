//! The last use of API keys, written in batches: authenticating a key
//! records its use in memory, and a periodic flush writes the latest use of
//! each key once, so a busy key costs one write per flush interval rather
//! than one per request.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::access::api_keys::ApiKeys;
use crate::common::ids::{ApiKeyId, TenantId};

/// Uses recorded since the last flush.
#[derive(Debug, Default)]
pub struct KeyUses {
    /// The latest use of each key, with its tenant.
    pending: Mutex<HashMap<ApiKeyId, (TenantId, DateTime<Utc>)>>,
}

impl KeyUses {
    /// Notes that `key_id` of `tenant_id` was accepted at `at`.
    pub fn record(&self, tenant_id: TenantId, key_id: ApiKeyId, at: DateTime<Utc>) {
        let mut pending = self
            .pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = pending.entry(key_id).or_insert((tenant_id, at));
        if entry.1 < at {
            entry.1 = at;
        }
    }

    fn take(&self) -> HashMap<ApiKeyId, (TenantId, DateTime<Utc>)> {
        std::mem::take(
            &mut *self
                .pending
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    /// Writes every pending use, each in its tenant's scope. A failed
    /// write is logged and dropped: the next use records it again.
    pub async fn flush(&self, keys: &ApiKeys) {
        for (key_id, (tenant_id, at)) in self.take() {
            if let Err(error) = keys.record_use(tenant_id, key_id, at).await {
                tracing::warn!(%error, key_id = %key_id, "could not record an API key's last use");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_latest_use_of_a_key_is_kept() {
        let uses = KeyUses::default();
        let tenant = TenantId::from_uuid(uuid::Uuid::now_v7());
        let key = ApiKeyId::from_uuid(uuid::Uuid::now_v7());
        let early = Utc::now();
        let late = early + chrono::Duration::seconds(5);
        uses.record(tenant, key, late);
        uses.record(tenant, key, early);
        let pending = uses.take();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[&key], (tenant, late));
        assert!(uses.take().is_empty());
    }
}
