//! Layered configuration documents: the layers, their names, versions and
//! etags, and the pure rule that merges them; what a change does to a
//! layer, and the bounds it must keep, are in [`crate::config::patch`].
//!
//! Invariants:
//! - a layer's content is a JSON object; the effective configuration is
//!   DEFAULTS ← PLAN ← TENANT, merged object by object, where any non-object
//!   value of a more specific layer replaces the less specific one and a
//!   `null` removes the key ([`merge`]);
//! - a version is immutable once written: changes and rollbacks add one;
//! - a layer's etag depends on its name and current version only, so a
//!   change of a less specific layer does not invalidate it (as the proto
//!   says of `Config.etag`).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::common::ids::TenantId;
use crate::error::{Error, Result};

/// One of the three kinds of layer, least specific first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LayerKind {
    /// `defaults/config`.
    Defaults,
    /// `plans/{plan}/config`.
    Plan,
    /// `tenants/{id}/config`.
    Tenant,
}

/// One configuration layer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LayerRef {
    /// The fleet-wide defaults.
    Defaults,
    /// The layer of a plan, by plan id.
    Plan(String),
    /// A tenant's own layer.
    Tenant(TenantId),
}

impl LayerRef {
    /// Which kind of layer.
    pub fn kind(&self) -> LayerKind {
        match self {
            LayerRef::Defaults => LayerKind::Defaults,
            LayerRef::Plan(_) => LayerKind::Plan,
            LayerRef::Tenant(_) => LayerKind::Tenant,
        }
    }

    /// `defaults/config`, `plans/{plan}/config` or `tenants/{id}/config`.
    pub fn resource_name(&self) -> String {
        match self {
            LayerRef::Defaults => "defaults/config".to_owned(),
            LayerRef::Plan(plan) => format!("plans/{plan}/config"),
            LayerRef::Tenant(id) => format!("{}/config", id.resource_name()),
        }
    }

    /// The tenant whose layer this is.
    pub fn tenant_id(&self) -> Option<TenantId> {
        match self {
            LayerRef::Tenant(id) => Some(*id),
            _ => None,
        }
    }

    /// Identifies `version` of this layer; see the module invariants.
    pub fn etag(&self, version: i64) -> String {
        let digest = Sha256::new()
            .chain_update(self.resource_name().as_bytes())
            .chain_update(version.to_be_bytes())
            .finalize();
        crate::common::hex(&digest[..8])
    }
}

/// One immutable version of a layer.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigVersion {
    /// The layer.
    pub layer: LayerRef,
    /// Numbered from 1 per layer.
    pub version: i64,
    /// The layer's own content at this version.
    pub values: Map<String, Value>,
    /// Who made it (the audit actor).
    pub author: String,
    /// Why.
    pub comment: String,
    /// The request id of the call that made it.
    pub request_id: String,
    /// For a rollback, the version restored; 0 otherwise.
    pub restored_version: i64,
    /// When it was written.
    pub create_time: DateTime<Utc>,
}

impl ConfigVersion {
    /// `{config}/versions/{version}`.
    pub fn resource_name(&self) -> String {
        format!("{}/versions/{}", self.layer.resource_name(), self.version)
    }
}

/// A layer and its current version, `None` when it was never written.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerHead {
    /// The layer.
    pub layer: LayerRef,
    /// Its newest version.
    pub current: Option<ConfigVersion>,
}

impl LayerHead {
    /// The current version number; 0 for a layer never written.
    pub fn version(&self) -> i64 {
        self.current.as_ref().map_or(0, |current| current.version)
    }

    /// The current content; empty for a layer never written.
    pub fn values(&self) -> Map<String, Value> {
        self.current
            .as_ref()
            .map(|current| current.values.clone())
            .unwrap_or_default()
    }

    /// The etag of the current version.
    pub fn etag(&self) -> String {
        self.layer.etag(self.version())
    }
}

/// A layer with the less specific layers it is merged over, least specific
/// first; the last is the layer itself.
#[derive(Debug, Clone, PartialEq)]
pub struct LayeredConfig {
    /// The chain, least specific first; never empty.
    pub chain: Vec<LayerHead>,
}

impl LayeredConfig {
    /// The layer this is about (the most specific of the chain).
    pub fn own(&self) -> Option<&LayerHead> {
        self.chain.last()
    }

    /// The effective document and, for each of its top-level keys, the most
    /// specific layer that sets it.
    pub fn effective(&self) -> (Map<String, Value>, Vec<(String, LayerKind)>) {
        let mut merged = Map::new();
        for head in &self.chain {
            merge(&mut merged, &head.values());
        }
        let key_layers = merged
            .keys()
            .map(|key| {
                let kind = self
                    .chain
                    .iter()
                    .rev()
                    .find(|head| head.values().get(key).is_some_and(|value| !value.is_null()))
                    .map_or(LayerKind::Defaults, |head| head.layer.kind());
                (key.clone(), kind)
            })
            .collect();
        (merged, key_layers)
    }
}

/// Merges `over` into `base`: objects key by key, recursively; a `null`
/// removes the key; any other value replaces.
pub fn merge(base: &mut Map<String, Value>, over: &Map<String, Value>) {
    for (key, value) in over {
        match (base.get_mut(key), value) {
            (_, Value::Null) => {
                base.remove(key);
            }
            (Some(Value::Object(inner)), Value::Object(more)) => merge(inner, more),
            (_, Value::Object(more)) => {
                // Nulls inside a new object remove nothing; drop them.
                let mut fresh = Map::new();
                merge(&mut fresh, more);
                base.insert(key.clone(), Value::Object(fresh));
            }
            (_, other) => {
                base.insert(key.clone(), other.clone());
            }
        }
    }
}

/// The layer a resource name names, with the tenant as the caller wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigName {
    /// `defaults/config`.
    Defaults,
    /// `plans/{plan}/config`.
    Plan(String),
    /// `tenants/{tenant}/config`.
    Tenant(crate::common::ids::TenantRef),
}

impl ConfigName {
    /// Parses `defaults/config`, `plans/{plan}/config` or
    /// `tenants/{tenant}/config`.
    pub fn parse(name: &str, field: &str) -> Result<Self> {
        if name == "defaults/config" {
            return Ok(ConfigName::Defaults);
        }
        let Some(layer) = name.strip_suffix("/config") else {
            return Err(malformed(field));
        };
        if layer.starts_with("plans/") {
            return crate::quota::parse_plan_name(layer, field).map(ConfigName::Plan);
        }
        if layer.starts_with("tenants/") {
            return crate::common::ids::TenantRef::parse_name(layer, field).map(ConfigName::Tenant);
        }
        Err(malformed(field))
    }

    /// Parses `{config}/versions/{version}`.
    pub fn parse_version(name: &str, field: &str) -> Result<(Self, i64)> {
        let (layer, number) = name
            .rsplit_once("/versions/")
            .ok_or_else(|| Error::invalid_field(field, "must be {config}/versions/{version}"))?;
        let version = number
            .parse::<i64>()
            .ok()
            .filter(|version| *version >= 1)
            .ok_or_else(|| Error::invalid_field(field, "the version must be a number from 1"))?;
        Ok((Self::parse(layer, field)?, version))
    }
}

fn malformed(field: &str) -> Error {
    Error::invalid_field(
        field,
        "must be defaults/config, plans/{plan}/config or tenants/{tenant}/config",
    )
}

/// `value`, which must be a JSON object, as a map: how the tests of
/// layers and patches write documents as `json!` literals.
#[cfg(test)]
pub(crate) fn object(value: Value) -> Map<String, Value> {
    value.as_object().cloned().expect("an object")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn merging_recurses_into_objects_replaces_the_rest_and_null_removes() {
        let mut base = object(json!({"a": {"x": 1, "y": 2}, "b": [1], "c": true}));
        merge(
            &mut base,
            &object(json!({"a": {"y": 3, "z": null}, "b": [2], "c": null, "d": {"n": null}})),
        );
        assert_eq!(
            Value::Object(base),
            json!({"a": {"x": 1, "y": 3}, "b": [2], "d": {}})
        );
    }

    #[test]
    fn names_parse() {
        assert_eq!(
            ConfigName::parse("defaults/config", "n").expect("ok"),
            ConfigName::Defaults
        );
        assert_eq!(
            ConfigName::parse("plans/starter/config", "n").expect("ok"),
            ConfigName::Plan("starter".into())
        );
        let (name, version) =
            ConfigName::parse_version("plans/starter/config/versions/7", "n").expect("ok");
        assert_eq!((name, version), (ConfigName::Plan("starter".into()), 7));
        assert!(ConfigName::parse("tenants/x", "n").is_err());
        assert!(ConfigName::parse_version("defaults/config/versions/0", "n").is_err());
    }
}
