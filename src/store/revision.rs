//! Audited resources and the ones changed under optimistic concurrency
//! (plans, metrics, flags): what the shared write flows need to know of a
//! resource, and the one etag-checked update flow.
//!
//! Every change bumps a resource's revision; its etag, derived from the
//! revision, pins what a caller read, and the write is conditional on the
//! revision read, so of two concurrent changes one fails with ABORTED
//! `ETAG_MISMATCH` instead of overwriting the other.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::ids::TenantId;
use crate::error::{Error, FieldViolation, Result};
use crate::store::Store;
use crate::store::audit::{AuditRecord, Origin};
use crate::store::scope::Scope;

/// A resource whose writes are audited with snapshots of it. The methods
/// are the resource's own, for the shared flows to call.
pub trait Audited {
    /// Its resource name, e.g. `plans/starter`.
    fn resource_name(&self) -> String;

    /// Its state for the audit log.
    fn snapshot(&self) -> Result<Value>;

    /// The tenant whose audit trail records its writes; `None`, the
    /// platform's, for the fleet-wide catalogue.
    fn tenant(&self) -> Option<TenantId> {
        None
    }

    /// The record of `action` turning `before` into `self`.
    fn audit(
        &self,
        origin: &Origin,
        action: &'static str,
        before: Option<&Self>,
    ) -> Result<AuditRecord> {
        let name = self.resource_name();
        let before = before.map(Self::snapshot).transpose()?;
        let after = Some(self.snapshot()?);
        Ok(self.record(origin, action, name, before, after))
    }

    /// The record of `action` removing `self`.
    fn removal(&self, origin: &Origin, action: &'static str) -> Result<AuditRecord> {
        let before = Some(self.snapshot()?);
        Ok(self.record(origin, action, self.resource_name(), before, None))
    }

    /// A record in its tenant's trail, or the platform's.
    #[doc(hidden)]
    fn record(
        &self,
        origin: &Origin,
        action: &'static str,
        name: String,
        before: Option<Value>,
        after: Option<Value>,
    ) -> AuditRecord {
        match self.tenant() {
            Some(tenant_id) => AuditRecord::new(origin, action, tenant_id, name, before, after),
            None => AuditRecord::platform(origin, action, name, before, after),
        }
    }
}

/// A resource changed under optimistic concurrency, named
/// `{COLLECTION}/{key}`.
pub trait Revisioned: Audited + Clone {
    /// What NOT_FOUND calls its kind, e.g. `plan`.
    const KIND: &'static str;
    /// The first segment of its names, e.g. `plans`.
    const COLLECTION: &'static str;

    /// The opaque etag of this revision.
    fn etag(&self) -> String;

    /// Incremented on every change; the conditional write compares it.
    fn revision(&self) -> i64;

    /// Makes `self` the next revision, changed at `now`.
    fn bump(&mut self, now: DateTime<Utc>);

    /// NOT_FOUND for the resource `key` of the collection.
    fn not_found(key: &str) -> Error {
        Error::NotFound {
            kind: Self::KIND,
            name: format!("{}/{key}", Self::COLLECTION),
        }
    }

    /// The key of the resource `name`, e.g. `starter` of `plans/starter`.
    fn key_of(name: &str) -> &str {
        name.strip_prefix(Self::COLLECTION)
            .and_then(|rest| rest.strip_prefix('/'))
            .unwrap_or(name)
    }

    /// The key of the resource `name` a request gives in `field`:
    /// INVALID_ARGUMENT unless it is `{COLLECTION}/{key}` with a key in
    /// which `check` finds no fault.
    fn parse_key(
        name: &str,
        field: &str,
        check: impl FnOnce(&str, &str, &mut Vec<FieldViolation>),
    ) -> Result<String> {
        let key = name
            .strip_prefix(Self::COLLECTION)
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or_else(|| {
                let form = format!("must be {}/{{{}}}", Self::COLLECTION, Self::KIND);
                Error::invalid_field(field, form)
            })?;
        let mut violations = Vec::new();
        check(key, field, &mut violations);
        if violations.is_empty() {
            Ok(key.to_owned())
        } else {
            Err(Error::InvalidArgument(violations))
        }
    }

    /// Refuses with ABORTED `ETAG_MISMATCH` when `expected` is given and
    /// stale.
    fn check_etag(&self, expected: Option<&str>) -> Result<()> {
        Error::check_etag(expected, &self.etag(), || self.resource_name())
    }
}

/// The audit snapshot of a resource: its serde form.
pub fn serde_snapshot(resource: &impl serde::Serialize) -> Result<Value> {
    serde_json::to_value(resource).map_err(Error::internal)
}

/// The etag of a revision: a short hash of what tells the resource's
/// revisions apart (its key and revision, and for some its creation time,
/// which tells a recreated resource from its predecessor).
pub fn etag_of(parts: &[&[u8]]) -> String {
    let digest = parts
        .iter()
        .fold(Sha256::new(), |hash, part| hash.chain_update(part))
        .finalize();
    crate::common::hex(&digest[..8])
}

/// The revision and times every revisioned resource carries; its serde
/// form is the three fields, flattened into the resource's snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Stamps {
    /// Optimistic-concurrency revision, from 1; the etag is derived from it.
    pub revision: i64,
    /// Creation time.
    pub create_time: DateTime<Utc>,
    /// Last change.
    pub update_time: DateTime<Utc>,
}

impl Stamps {
    /// A new resource's: revision 1, created and last changed at `now`.
    pub fn first(now: DateTime<Utc>) -> Self {
        Stamps {
            revision: 1,
            create_time: now,
            update_time: now,
        }
    }

    /// A put's at `now`: the next revision of the stamps of what it
    /// replaces, or the first when it replaces nothing.
    pub fn after(replaced: Option<Stamps>, now: DateTime<Utc>) -> Self {
        let Some(mut stamps) = replaced else {
            return Stamps::first(now);
        };
        stamps.bump(now);
        stamps
    }

    /// The next revision, changed at `now`.
    pub fn bump(&mut self, now: DateTime<Utc>) {
        self.revision += 1;
        self.update_time = now;
    }
}

/// Applies one field of a patch: `None` leaves `field` as it is.
pub fn patch<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

/// Implements [`Audited`] and [`Revisioned`] for a resource struct with
/// a [`Stamps`] field `stamps`, from its inherent `resource_name`
/// and `etag` and a snapshot function: `revisioned!(Plan, "plan", "plans",
/// snapshot)`.
macro_rules! revisioned {
    ($resource:ty, $kind:literal, $collection:literal, $snapshot:path) => {
        impl $crate::store::revision::Audited for $resource {
            fn resource_name(&self) -> String {
                <$resource>::resource_name(self)
            }

            fn snapshot(&self) -> $crate::error::Result<serde_json::Value> {
                $snapshot(self)
            }
        }

        impl $crate::store::revision::Revisioned for $resource {
            const KIND: &'static str = $kind;
            const COLLECTION: &'static str = $collection;

            fn etag(&self) -> String {
                <$resource>::etag(self)
            }

            fn revision(&self) -> i64 {
                self.stamps.revision
            }

            fn bump(&mut self, now: chrono::DateTime<chrono::Utc>) {
                self.stamps.bump(now);
            }
        }
    };
}
pub(crate) use revisioned;

/// Implements [`Audited`] for a resource of one tenant, recorded in that
/// tenant's trail: its inherent `resource_name`, the snapshot function
/// given, and the tenant in its field `$tenant`.
macro_rules! tenant_audited {
    ($resource:ty, $snapshot:path, $tenant:ident) => {
        impl $crate::store::revision::Audited for $resource {
            fn resource_name(&self) -> String {
                <$resource>::resource_name(self)
            }

            fn snapshot(&self) -> $crate::error::Result<serde_json::Value> {
                $snapshot(self)
            }

            fn tenant(&self) -> Option<$crate::common::ids::TenantId> {
                Some(self.$tenant)
            }
        }
    };
}
pub(crate) use tenant_audited;

/// One etag-checked change of a resource in `scope`, audited as `action`.
#[derive(Debug)]
pub struct Update<'a> {
    /// Where the resource is written.
    store: &'a Store,
    /// The scope it is written in.
    scope: Scope,
    /// Who changes it.
    origin: &'a Origin,
    /// The audit action, e.g. `UpdatePlan`.
    action: &'static str,
    /// The etag the caller pinned, if any.
    etag: Option<&'a str>,
}

impl<'a> Update<'a> {
    /// The change of a resource in `scope` by `origin` as `action`, if it
    /// still has `etag` (when given); [`Self::apply`] makes it.
    pub fn new(
        store: &'a Store,
        scope: Scope,
        origin: &'a Origin,
        action: &'static str,
        etag: Option<&'a str>,
    ) -> Self {
        Self {
            store,
            scope,
            origin,
            action,
            etag,
        }
    }

    /// Turns `current` into its next revision, changed at `now`: `change`
    /// edits a copy (and refuses what may not change), which is bumped and
    /// written by `replace` on the revision read, with its audit record.
    /// `replace` answers whether the row was still as read: ABORTED
    /// `ETAG_MISMATCH` when it changed meanwhile.
    pub async fn apply<R: Revisioned>(
        self,
        (current, now): (R, DateTime<Utc>),
        change: impl AsyncFnOnce(&R, &mut R) -> Result<()>,
        replace: impl AsyncFnOnce(&Store, Scope, i64, &R, AuditRecord) -> Result<bool>,
    ) -> Result<R> {
        current.check_etag(self.etag)?;
        let mut next = current.clone();
        change(&current, &mut next).await?;
        next.bump(now);
        let record = next.audit(self.origin, self.action, Some(&current))?;
        if !replace(self.store, self.scope, current.revision(), &next, record).await? {
            return Err(Error::changed_meanwhile(&next.resource_name()));
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_etag_hashes_its_parts_as_one_message() {
        let whole = Sha256::new()
            .chain_update(b"starter")
            .chain_update(7_i64.to_be_bytes())
            .finalize();
        assert_eq!(
            etag_of(&[b"starter", &7_i64.to_be_bytes()]),
            crate::common::hex(&whole[..8])
        );
        assert_ne!(
            etag_of(&[b"starter", &7_i64.to_be_bytes()]),
            etag_of(&[b"starter", &8_i64.to_be_bytes()])
        );
    }

    #[test]
    fn patching_a_field_keeps_it_unless_a_value_is_given() {
        let mut field = "old".to_owned();
        patch(&mut field, None);
        assert_eq!(field, "old");
        patch(&mut field, Some("new".to_owned()));
        assert_eq!(field, "new");
    }
}
