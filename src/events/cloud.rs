//! Events as CloudEvents 1.0: the protobuf format (WatchEvents) and the
//! structured JSON format (webhooks, NATS), from the same attributes.
//!
//! Every event carries `id`, `source`, `specversion`, `type`, `subject`,
//! `time`, `datacontenttype` and the extensions `sequence`, `resource` and,
//! for a tenant's events, `tenantid`; its data is JSON.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use crate::cloudevents::CloudEvent;
use crate::cloudevents::cloud_event::cloud_event_attribute_value::Attr;
use crate::cloudevents::cloud_event::{CloudEventAttributeValue, Data};
use crate::rpc::convert::timestamp;
use crate::store::outbox::{OutboxEvent, full_type};

/// The `source` of every event tenantd emits.
pub const SOURCE: &str = "//tenantd";
/// The CloudEvents version.
pub const SPEC_VERSION: &str = "1.0";
/// The media type of every event's data.
pub const DATA_CONTENT_TYPE: &str = "application/json";

/// The `sequence` extension: zero-padded, so the strings sort as the
/// numbers do, as the CloudEvents sequence extension asks.
pub fn sequence_attribute(sequence: i64) -> String {
    format!("{sequence:020}")
}

/// The event in the CloudEvents protobuf format.
pub fn to_proto(event: &OutboxEvent) -> CloudEvent {
    let text = |value: String| CloudEventAttributeValue {
        attr: Some(Attr::CeString(value)),
    };
    let mut attributes = HashMap::from([
        ("subject".to_owned(), text(event.subject.clone())),
        (
            "time".to_owned(),
            CloudEventAttributeValue {
                attr: Some(Attr::CeTimestamp(timestamp(event.time))),
            },
        ),
        (
            "datacontenttype".to_owned(),
            text(DATA_CONTENT_TYPE.to_owned()),
        ),
        (
            "sequence".to_owned(),
            text(sequence_attribute(event.sequence)),
        ),
        ("resource".to_owned(), text(event.resource.clone())),
    ]);
    if let Some(tenant_id) = event.tenant_id {
        attributes.insert("tenantid".to_owned(), text(tenant_id.to_string()));
    }
    CloudEvent {
        id: event.id.to_string(),
        source: SOURCE.to_owned(),
        spec_version: SPEC_VERSION.to_owned(),
        r#type: full_type(&event.short_type),
        attributes,
        data: Some(Data::TextData(data_json(event))),
    }
}

/// The event in the CloudEvents structured JSON format.
pub fn to_json(event: &OutboxEvent) -> Value {
    let mut object = Map::new();
    object.insert("specversion".to_owned(), json!(SPEC_VERSION));
    object.insert("id".to_owned(), json!(event.id.to_string()));
    object.insert("source".to_owned(), json!(SOURCE));
    object.insert("type".to_owned(), json!(full_type(&event.short_type)));
    object.insert("subject".to_owned(), json!(event.subject));
    object.insert(
        "time".to_owned(),
        json!(
            event
                .time
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        ),
    );
    object.insert("datacontenttype".to_owned(), json!(DATA_CONTENT_TYPE));
    object.insert(
        "sequence".to_owned(),
        json!(sequence_attribute(event.sequence)),
    );
    object.insert("resource".to_owned(), json!(event.resource));
    if let Some(tenant_id) = event.tenant_id {
        object.insert("tenantid".to_owned(), json!(tenant_id.to_string()));
    }
    object.insert("data".to_owned(), event.data.clone().unwrap_or(Value::Null));
    Value::Object(object)
}

/// The event's data as JSON text; `null` when it has none.
fn data_json(event: &OutboxEvent) -> String {
    event
        .data
        .as_ref()
        .map_or_else(|| "null".to_owned(), Value::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::ids::TenantId;

    fn event() -> OutboxEvent {
        OutboxEvent {
            sequence: 42,
            id: uuid::Uuid::now_v7(),
            tenant_id: Some(TenantId::from_uuid(uuid::Uuid::now_v7())),
            short_type: "tenant.created".to_owned(),
            subject: "tenants/x".to_owned(),
            resource: "tenants/x".to_owned(),
            time: chrono::Utc::now(),
            data: Some(json!({"slug": "acme"})),
        }
    }

    #[test]
    fn both_formats_carry_the_same_attributes() {
        let event = event();
        let proto = to_proto(&event);
        let structured = to_json(&event);
        assert_eq!(structured["id"], json!(proto.id));
        assert_eq!(structured["type"], json!("dev.tenantd.tenant.created.v1"));
        assert_eq!(proto.r#type, "dev.tenantd.tenant.created.v1");
        assert_eq!(structured["sequence"], json!("00000000000000000042"));
        assert_eq!(structured["data"], json!({"slug": "acme"}));
        assert_eq!(
            proto.data,
            Some(Data::TextData(r#"{"slug":"acme"}"#.to_owned()))
        );
        for name in [
            "subject",
            "time",
            "datacontenttype",
            "sequence",
            "resource",
            "tenantid",
        ] {
            assert!(proto.attributes.contains_key(name), "{name}");
            assert!(structured.get(name).is_some(), "{name}");
        }
    }

    #[test]
    fn sequences_sort_as_strings_as_they_do_as_numbers() {
        assert!(sequence_attribute(9) < sequence_attribute(10));
        assert!(sequence_attribute(i64::MAX - 1) < sequence_attribute(i64::MAX));
    }
}
