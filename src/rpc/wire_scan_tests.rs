//! Tests of the scan for unstorable text.

use prost_types::value::Kind as ValueKind;
use prost_types::{ListValue, Struct, Value};

use super::*;
use crate::pb;

fn scan<M: Message>(name: &str, message: &M) -> Option<String> {
    unstorable_field(name, &message.encode_to_vec())
}

fn text(value: &str) -> Value {
    Value {
        kind: Some(ValueKind::StringValue(value.to_owned())),
    }
}

/// Found by the `request` fuzz target: a group (which prost skips)
/// ahead of the text once ended the walk, so the NUL went through.
#[test]
fn walks_past_groups() {
    let name = "tenantd.v1.SuspendTenantRequest";
    let request = pb::SuspendTenantRequest {
        name: "tenants/a\0b".into(),
        ..Default::default()
    };
    for group in [
        &[0x23, 0x24][..],
        &[0x23, 0x2b, 0x08, 0x01, 0x2c, 0x24],
        &[0x7b, 0x7c],
    ] {
        let mut bytes = group.to_vec();
        bytes.extend(request.encode_to_vec());
        assert_eq!(
            unstorable_field(name, &bytes).as_deref(),
            Some("name"),
            "{group:?}"
        );
        assert!(pb::SuspendTenantRequest::decode(&bytes[..]).is_ok());
    }
}

#[test]
fn names_the_field_that_holds_a_nul() {
    let mut tenant = pb::Tenant {
        slug: "acme".into(),
        ..Default::default()
    };
    let request = |tenant: &pb::Tenant| pb::CreateTenantRequest {
        tenant: Some(tenant.clone()),
        ..Default::default()
    };
    let name = "tenantd.v1.CreateTenantRequest";
    assert_eq!(scan(name, &request(&tenant)), None);
    tenant.labels.insert("env".into(), "pr\0d".into());
    assert_eq!(
        scan(name, &request(&tenant)).as_deref(),
        Some("tenant.labels.env")
    );
    tenant.labels.clear();
    tenant.labels.insert("e\0v".into(), "prod".into());
    assert_eq!(
        scan(name, &request(&tenant)).as_deref(),
        Some("tenant.labels")
    );
    tenant.labels.clear();
    tenant.display_name = "\0".into();
    assert_eq!(
        scan(name, &request(&tenant)).as_deref(),
        Some("tenant.display_name")
    );
}

#[test]
fn json_values_are_named_by_their_keys_and_positions() {
    let list = Value {
        kind: Some(ValueKind::ListValue(ListValue {
            values: vec![text("fine"), text("b\0d")],
        })),
    };
    let request = pb::UpdateConfigRequest {
        config: Some(pb::Config {
            values: Some(Struct {
                fields: [("hosts".to_owned(), list)].into(),
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(
        scan("tenantd.v1.UpdateConfigRequest", &request).as_deref(),
        Some("config.values.hosts[1]")
    );
}

#[test]
fn usage_events_and_answers_are_left_to_others() {
    let request = pb::ReportUsageRequest {
        events: vec![pb::UsageEvent {
            event_id: "e\0".into(),
            ..Default::default()
        }],
    };
    assert_eq!(scan("tenantd.v1.ReportUsageRequest", &request), None);
    let answer = pb::Tenant {
        display_name: "\0".into(),
        ..Default::default()
    };
    assert_eq!(scan("tenantd.v1.Tenant", &answer), None);
}

#[test]
fn malformed_bytes_are_left_to_prost() {
    for bytes in [&[0x0a, 0x7f, 0x00][..], &[0xff, 0xff, 0x00], &[0x0b, 0x00]] {
        assert_eq!(
            unstorable_field("tenantd.v1.CreateTenantRequest", bytes),
            None
        );
    }
}
