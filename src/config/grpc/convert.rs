//! Conversions between ConfigService messages and configuration values:
//! `google.protobuf.Struct` ⇄ JSON objects, layers, versions, branding.

use prost_types::value::Kind;
use prost_types::{FieldMask, Struct};
use serde_json::{Map, Number, Value};

use crate::common::ids::TenantRef;
use crate::config::configs::ConfigUpdate;
use crate::config::layered::{ConfigName, ConfigVersion, LayerHead, LayerKind, LayeredConfig};
use crate::config::patch::{LayerChange, mask_paths};
use crate::error::{Error, Result};
use crate::pb;
use crate::rpc::convert::{etag, json_object, required, timestamp};

/// A `google.protobuf.Value` as JSON. Numbers are doubles on the wire;
/// whole ones come back as JSON integers, and non-finite ones are refused.
pub fn json_of(value: &prost_types::Value, field: &str) -> Result<Value> {
    Ok(match &value.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::BoolValue(flag)) => Value::Bool(*flag),
        Some(Kind::StringValue(text)) => Value::String(text.clone()),
        Some(Kind::NumberValue(number)) => number_of(*number, field)?,
        Some(Kind::ListValue(list)) => Value::Array(
            list.values
                .iter()
                .map(|item| json_of(item, field))
                .collect::<Result<_>>()?,
        ),
        Some(Kind::StructValue(object)) => Value::Object(object_of(object, field)?),
    })
}

fn number_of(number: f64, field: &str) -> Result<Value> {
    // Doubles hold every integer up to 2^53 exactly.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    if number.fract() == 0.0 && number.abs() <= EXACT {
        #[allow(clippy::cast_possible_truncation)]
        return Ok(Value::Number(Number::from(number as i64)));
    }
    Number::from_f64(number)
        .map(Value::Number)
        .ok_or_else(|| Error::invalid_field(field, "numbers must be finite"))
}

/// A `google.protobuf.Struct` as a JSON object.
pub fn object_of(object: &Struct, field: &str) -> Result<Map<String, Value>> {
    object
        .fields
        .iter()
        .map(|(key, value)| Ok((key.clone(), json_of(value, field)?)))
        .collect()
}

/// A JSON object as a `google.protobuf.Struct`.
pub fn struct_of(values: &Map<String, Value>) -> Struct {
    json_object(Value::Object(values.clone())).unwrap_or_default()
}

/// The proto spelling of a layer kind.
pub fn layer_kind(kind: LayerKind) -> pb::ConfigLayer {
    match kind {
        LayerKind::Defaults => pb::ConfigLayer::Defaults,
        LayerKind::Plan => pb::ConfigLayer::Plan,
        LayerKind::Tenant => pb::ConfigLayer::Tenant,
    }
}

/// Whether GetConfig asked for the layer alone.
pub fn layer_view(view: i32) -> Result<bool> {
    match pb::ConfigView::try_from(view) {
        Ok(pb::ConfigView::Unspecified | pb::ConfigView::Effective) => Ok(false),
        Ok(pb::ConfigView::Layer) => Ok(true),
        Err(_) => Err(Error::invalid_field("view", "is not a ConfigView")),
    }
}

/// A layered configuration as a `Config`, in the effective view or the
/// layer's own.
pub fn config(layered: &LayeredConfig, layer_only: bool) -> pb::Config {
    let Some(own) = layered.own() else {
        return pb::Config::default();
    };
    let current = own.current.as_ref();
    let mut message = pb::Config {
        name: own.layer.resource_name(),
        version: own.version(),
        update_time: current.map(|version| timestamp(version.create_time)),
        author: current
            .map(|version| version.author.clone())
            .unwrap_or_default(),
        comment: current
            .map(|version| version.comment.clone())
            .unwrap_or_default(),
        etag: own.etag(),
        ..Default::default()
    };
    if layer_only {
        message.values = Some(struct_of(&own.values()));
        message.view = pb::ConfigView::Layer.into();
        return message;
    }
    let (effective, key_layers) = layered.effective();
    message.values = Some(struct_of(&effective));
    message.view = pb::ConfigView::Effective.into();
    message.key_layers = key_layers
        .into_iter()
        .map(|(key, kind)| (key, layer_kind(kind).into()))
        .collect();
    message.layers = layered
        .chain
        .iter()
        .map(|head| pb::ConfigLayerVersion {
            layer: layer_kind(head.layer.kind()).into(),
            config: head.layer.resource_name(),
            version: head.version(),
        })
        .collect();
    message
}

/// A version as a `ConfigVersion`.
pub fn config_version(version: &ConfigVersion) -> pb::ConfigVersion {
    pb::ConfigVersion {
        name: version.resource_name(),
        version: version.version,
        values: Some(struct_of(&version.values)),
        author: version.author.clone(),
        create_time: Some(timestamp(version.create_time)),
        comment: version.comment.clone(),
        restored_version: version.restored_version,
        request_id: version.request_id.clone(),
    }
}

/// The change an UpdateConfig request asks for.
pub fn layer_change(values: Option<&Struct>, mask: Option<&FieldMask>) -> Result<LayerChange> {
    let values = values
        .map(|values| object_of(values, "config.values"))
        .transpose()?
        .unwrap_or_default();
    let paths = mask.map(|mask| mask.paths.as_slice()).unwrap_or_default();
    Ok(match mask_paths(paths, "update_mask")? {
        None => LayerChange::Replace(values),
        Some(paths) => LayerChange::Patch { values, paths },
    })
}

/// The layer an UpdateConfig request names and the update it asks for;
/// refused in the order a caller fixes them: the config, its name, then
/// its values and mask.
pub fn config_update(request: &pb::UpdateConfigRequest) -> Result<(ConfigName, ConfigUpdate)> {
    let given = required(request.config.as_ref(), "config")?;
    let name = ConfigName::parse(&given.name, "config.name")?;
    let update = ConfigUpdate {
        change: layer_change(given.values.as_ref(), request.update_mask.as_ref())?,
        etag: etag(&given.etag).map(str::to_owned),
        comment: request.comment.clone(),
        validate_only: request.validate_only,
        action: "UpdateConfig",
    };
    Ok((name, update))
}

/// The layer a RollbackConfig request names and the restore it asks for.
pub fn rollback(request: &pb::RollbackConfigRequest) -> Result<(ConfigName, ConfigUpdate)> {
    let name = ConfigName::parse(&request.name, "name")?;
    if request.version < 1 {
        return Err(Error::invalid_field(
            "version",
            "must be a version number from 1",
        ));
    }
    let update = ConfigUpdate {
        change: LayerChange::Restore(request.version),
        etag: etag(&request.etag).map(str::to_owned),
        comment: request.comment.clone(),
        validate_only: false,
        action: "RollbackConfig",
    };
    Ok((name, update))
}

/// The layer of the tenant an UpdateBranding request names and the update
/// of it the request asks for.
pub fn branding_update(request: &pb::UpdateBrandingRequest) -> Result<(ConfigName, ConfigUpdate)> {
    let given = required(request.branding.as_ref(), "branding")?;
    let by = branding_tenant(&given.name, "branding.name")?;
    let update = ConfigUpdate {
        change: branding_change(given, request.update_mask.as_ref())?,
        etag: etag(&given.etag).map(str::to_owned),
        comment: request.comment.clone(),
        validate_only: false,
        action: "UpdateBranding",
    };
    Ok((ConfigName::Tenant(by), update))
}

/// The branding fields, as keys of the `branding` object.
const BRANDING_FIELDS: [&str; 6] = [
    "logo_uri",
    "primary_color",
    "secondary_color",
    "accent_color",
    "custom_css",
    "email_sender_name",
];

/// The tenant of `tenants/{tenant}/branding`.
pub fn branding_tenant(name: &str, field: &str) -> Result<TenantRef> {
    let tenant = name
        .strip_suffix("/branding")
        .ok_or_else(|| Error::invalid_field(field, "must be tenants/{tenant}/branding"))?;
    TenantRef::parse_name(tenant, field)
}

/// The value of branding field `key` in `branding`; empty when unset.
fn branding_text(branding: Option<&Map<String, Value>>, key: &str) -> String {
    branding
        .and_then(|object| object.get(key))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The effective branding of a tenant's layered configuration.
pub fn branding(layered: &LayeredConfig) -> pb::Branding {
    let (effective, _) = layered.effective();
    let own = layered.own();
    let set = effective.get("branding").and_then(Value::as_object);
    let text = |key: &str| branding_text(set, key);
    let field_layers = BRANDING_FIELDS
        .iter()
        .filter(|key| set.is_some_and(|object| object.contains_key(**key)))
        .filter_map(|key| {
            let from = layered.chain.iter().rev().find(|head| {
                head.values()
                    .get("branding")
                    .and_then(Value::as_object)
                    .and_then(|object| object.get(*key))
                    .is_some_and(|value| !value.is_null())
            })?;
            Some(((*key).to_owned(), layer_kind(from.layer.kind()).into()))
        })
        .collect();
    pb::Branding {
        name: own
            .map(|head| head.layer.resource_name().replace("/config", "/branding"))
            .unwrap_or_default(),
        logo_uri: text("logo_uri"),
        primary_color: text("primary_color"),
        secondary_color: text("secondary_color"),
        accent_color: text("accent_color"),
        custom_css: text("custom_css"),
        email_sender_name: text("email_sender_name"),
        field_layers,
        config_version: own.map_or(0, LayerHead::version),
        etag: own.map(LayerHead::etag).unwrap_or_default(),
    }
}

/// The patch of the tenant layer an UpdateBranding request asks for:
/// named fields with a value are set, named empty ones removed; without a
/// mask, every non-empty field is set.
pub fn branding_change(given: &pb::Branding, mask: Option<&FieldMask>) -> Result<LayerChange> {
    let values = [
        ("logo_uri", &given.logo_uri),
        ("primary_color", &given.primary_color),
        ("secondary_color", &given.secondary_color),
        ("accent_color", &given.accent_color),
        ("custom_css", &given.custom_css),
        ("email_sender_name", &given.email_sender_name),
    ];
    let named: Vec<&str> = match mask.map(|mask| mask.paths.as_slice()) {
        None | Some([]) => values
            .iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|(key, _)| *key)
            .collect(),
        Some(paths) if paths.iter().any(|path| path == "*") => BRANDING_FIELDS.to_vec(),
        Some(paths) => {
            let mut named = Vec::with_capacity(paths.len());
            for path in paths {
                let Some(key) = BRANDING_FIELDS.iter().find(|key| **key == path.as_str()) else {
                    return Err(Error::invalid_field(
                        "update_mask",
                        format!("{path:?} is not a branding field"),
                    ));
                };
                named.push(*key);
            }
            named
        }
    };
    let branding: Map<String, Value> = values
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(key, value)| ((*key).to_owned(), Value::String((*value).clone())))
        .collect();
    let mut document = Map::new();
    document.insert("branding".to_owned(), Value::Object(branding));
    Ok(LayerChange::Patch {
        values: document,
        paths: named
            .into_iter()
            .map(|key| vec!["branding".to_owned(), key.to_owned()])
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn structs_round_trip_with_whole_numbers_as_integers() {
        let document = json!({"a": 1, "b": 1.5, "c": [true, null, "x"], "d": {"e": {}}});
        let object = document.as_object().cloned().expect("an object");
        let back = object_of(&struct_of(&object), "f").expect("valid");
        assert_eq!(Value::Object(back), document);
    }
}
