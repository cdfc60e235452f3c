//! Valid inputs for each fuzz target, from which the fuzzer's corpus
//! starts: the fuzzer mutates what already reaches deep into a parser
//! rather than first finding its way past the outer checks.

use envoy_types::pb::google::protobuf::UInt64Value;
use prost::Message;
use prost_types::value::Kind;
use prost_types::{FieldMask, Struct, Timestamp, Value};

use crate::common::ids::TenantId;
use crate::fuzzing::join;
use crate::fuzzing::messages::REQUEST_DECODERS;
use crate::pb;
use crate::tenancy::archive::{Archive, Section};
use crate::tenancy::grpc::archive::chunks;
use crate::tenancy::isolation::IsolationModel;
use envoy_types::pb::envoy::extensions::common::ratelimit::v3::{
    RateLimitDescriptor, rate_limit_descriptor,
};
use envoy_types::pb::envoy::service::ratelimit::v3 as rls;

const TENANT: &str = "0190f6a5-8e2b-7c3d-9a1b-2c3d4e5f6a7b";

fn text(value: &str) -> Value {
    Value {
        kind: Some(Kind::StringValue(value.to_owned())),
    }
}

fn number(value: f64) -> Value {
    Value {
        kind: Some(Kind::NumberValue(value)),
    }
}

fn object(fields: &[(&str, Value)]) -> Struct {
    Struct {
        fields: fields
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect(),
    }
}

fn config() -> Vec<Vec<u8>> {
    let limits = Value {
        kind: Some(Kind::StructValue(object(&[("seats", number(25.0))]))),
    };
    let update = pb::UpdateConfigRequest {
        config: Some(pb::Config {
            name: "tenants/slug:acme/config".into(),
            values: Some(object(&[("limits", limits), ("locale", text("de-CH"))])),
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["limits.seats".into(), "locale".into()],
        }),
        comment: "more seats".into(),
        validate_only: false,
    };
    let branding = pb::UpdateBrandingRequest {
        branding: Some(pb::Branding {
            name: "tenants/slug:acme/branding".into(),
            primary_color: "#0a84ff".into(),
            custom_css: "body { margin: 0 }".into(),
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["primary_color".into(), "custom_css".into()],
        }),
        comment: String::new(),
    };
    vec![join(&update.encode_to_vec(), &branding.encode_to_vec())]
}

/// A flag created, a plan's override of it set, and the flag evaluated.
fn flags() -> Vec<Vec<u8>> {
    let rest = join(
        &flag_override().encode_to_vec(),
        &flag_evaluation().encode_to_vec(),
    );
    vec![join(&flag_creation().encode_to_vec(), &rest)]
}

/// A targeting rule of one condition.
fn rule(
    attribute: &str,
    op: pb::TargetingOperator,
    values: Vec<Value>,
    serve: pb::targeting_rule::Serve,
) -> pb::TargetingRule {
    pb::TargetingRule {
        description: String::new(),
        conditions: vec![pb::TargetingCondition {
            attribute: attribute.into(),
            op: op.into(),
            values,
        }],
        serve: Some(serve),
    }
}

/// A boolean flag with rules, a semver comparison and a rollout.
fn flag_creation() -> pb::CreateFlagRequest {
    let rollout = pb::Rollout {
        weights: vec![
            pb::VariantWeight {
                variant: "on".into(),
                weight: 30,
            },
            pb::VariantWeight {
                variant: "off".into(),
                weight: 70,
            },
        ],
        bucket_by: "targetingKey".into(),
        salt: "beta".into(),
    };
    pb::CreateFlagRequest {
        flag: Some(pb::Flag {
            description: "the beta".into(),
            value_type: pb::FlagType::Boolean.into(),
            variants: [
                (
                    "on".to_owned(),
                    Value {
                        kind: Some(Kind::BoolValue(true)),
                    },
                ),
                (
                    "off".to_owned(),
                    Value {
                        kind: Some(Kind::BoolValue(false)),
                    },
                ),
            ]
            .into_iter()
            .collect(),
            default_variant: "off".into(),
            enabled: true,
            rules: vec![
                rule(
                    "country",
                    pb::TargetingOperator::In,
                    vec![text("CH"), text("DE")],
                    pb::targeting_rule::Serve::Variant("on".into()),
                ),
                rule(
                    "app_version",
                    pb::TargetingOperator::SemverGt,
                    vec![text("2.1.0")],
                    pb::targeting_rule::Serve::Rollout(rollout.clone()),
                ),
            ],
            default_rollout: Some(rollout),
            ..Default::default()
        }),
        flag_id: "beta".into(),
        request_id: String::new(),
    }
}

/// A plan's override of the flag.
fn flag_override() -> pb::SetFlagOverrideRequest {
    pb::SetFlagOverrideRequest {
        flag_override: Some(pb::FlagOverride {
            name: "plans/pro/flagOverrides/beta".into(),
            enabled: Some(true),
            rules: vec![rule(
                "email",
                pb::TargetingOperator::EndsWith,
                vec![text("@example.com")],
                pb::targeting_rule::Serve::Variant("on".into()),
            )],
            variant: "off".into(),
            ..Default::default()
        }),
    }
}

/// The flag evaluated in a context its rules match.
fn flag_evaluation() -> pb::EvaluateFlagRequest {
    pb::EvaluateFlagRequest {
        parent: "tenants/slug:acme".into(),
        flag: "beta".into(),
        context: Some(pb::EvaluationContext {
            targeting_key: "user-1".into(),
            attributes: [
                ("country".to_owned(), text("CH")),
                ("app_version".to_owned(), text("2.3.1")),
                ("email".to_owned(), text("a@example.com")),
            ]
            .into_iter()
            .collect(),
        }),
        ..Default::default()
    }
}

fn usage_events() -> Vec<Vec<u8>> {
    let at = Some(Timestamp {
        seconds: 1_800_000_000 - 3600,
        nanos: 0,
    });
    let event =
        |id: &str, metric: &str, quantity: f64, dimensions: &[(&str, &str)]| pb::UsageEvent {
            event_id: id.into(),
            tenant: format!("tenants/{TENANT}"),
            metric: metric.into(),
            quantity,
            occurred_time: at,
            dimensions: dimensions
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
        };
    let batch = pb::ReportUsageRequest {
        events: vec![
            event("e-1", "api.calls", 3.0, &[("region", "eu")]),
            event("e-2", "users", 1.0, &[("user", "u-1")]),
            event("e-3", "peak", 1.5e17, &[]),
        ],
    };
    let query = pb::QueryUsageRequest {
        parent: "tenants/slug:acme".into(),
        metrics: vec!["api.calls".into()],
        start_day: "2026-11-01".into(),
        end_day: "2026-11-30".into(),
        granularity: pb::UsageGranularity::Day.into(),
    };
    vec![join(&batch.encode_to_vec(), &query.encode_to_vec())]
}

fn envoy_descriptors() -> Vec<Vec<u8>> {
    let entry = |key: &str, value: &str| rate_limit_descriptor::Entry {
        key: key.into(),
        value: value.into(),
    };
    let request = rls::RateLimitRequest {
        domain: "edge".into(),
        descriptors: vec![
            RateLimitDescriptor {
                entries: vec![entry("tenant", TENANT), entry("quota", "api.calls")],
                hits_addend: Some(UInt64Value { value: 2 }),
                ..Default::default()
            },
            RateLimitDescriptor {
                entries: vec![entry("tenant_slug", "acme"), entry("quota", "api.calls")],
                ..Default::default()
            },
        ],
        hits_addend: 1,
    };
    vec![request.encode_to_vec()]
}

fn tenant_archive() -> Vec<Vec<u8>> {
    let id = TenantId::parse(TENANT, "id").expect("a tenant id");
    let tenant = format!(
        r#"{{"id":"{TENANT}","slug":"acme","state":"ACTIVE","isolation":"POOL","template_version":0,"labels":{{"env":"prod"}}}}"#
    );
    let archive = Archive::new(
        (id, "acme", IsolationModel::Pool, 0),
        vec![
            Section {
                name: "control/tenants".into(),
                rows: vec![tenant],
            },
            Section {
                name: "control/api_keys".into(),
                rows: vec![format!(r#"{{"id":"k-1","tenant_id":"{TENANT}"}}"#)],
            },
        ],
    );
    let file = chunks(&archive)
        .iter()
        .flat_map(Message::encode_length_delimited_to_vec)
        .collect();
    vec![file]
}

fn request() -> Vec<Vec<u8>> {
    let pick = |name: &str| {
        let index = REQUEST_DECODERS
            .iter()
            .position(|(served, _)| *served == name)
            .expect("a served request type");
        u8::try_from(index).expect("fewer than 256 request types")
    };
    let create = pb::CreateTenantRequest {
        tenant: Some(pb::Tenant {
            slug: "acme".into(),
            display_name: "Acme".into(),
            plan: "plans/pro".into(),
            labels: [("env".to_owned(), "prod".to_owned())]
                .into_iter()
                .collect(),
            ..Default::default()
        }),
        initial_admin_email: "admin@acme.example".into(),
        onboarding_attributes: [("crm".to_owned(), "hubspot".to_owned())]
            .into_iter()
            .collect(),
        ..Default::default()
    };
    let allocate = pb::AllocateQuotaRequest {
        parent: "tenants/slug:acme".into(),
        costs: vec![pb::QuotaCost {
            quota: "api.calls".into(),
            cost: 5,
        }],
        ..Default::default()
    };
    let watch = pb::WatchEventsRequest {
        event_types: vec![
            "tenant.created".into(),
            "dev.tenantd.domain.verified.v1".into(),
        ],
        tenants: vec!["tenants/0190f6a5-8e2b-7c3d-9a1b-2c3d4e5f6a7b".into()],
        after_sequence: Some(42),
        heartbeat_interval: Some(prost_types::Duration {
            seconds: 30,
            nanos: 0,
        }),
    };
    let webhook = pb::CreateWebhookEndpointRequest {
        parent: "tenants/0190f6a5-8e2b-7c3d-9a1b-2c3d4e5f6a7b".into(),
        webhook_endpoint: Some(pb::WebhookEndpoint {
            url: "https://hooks.example.com/tenantd".into(),
            event_types: vec!["tenant.suspended".into()],
            ..Default::default()
        }),
    };
    let mut seeds = Vec::new();
    for (name, bytes) in [
        ("tenantd.v1.CreateTenantRequest", create.encode_to_vec()),
        ("tenantd.v1.AllocateQuotaRequest", allocate.encode_to_vec()),
        ("tenantd.v1.WatchEventsRequest", watch.encode_to_vec()),
        (
            "tenantd.v1.CreateWebhookEndpointRequest",
            webhook.encode_to_vec(),
        ),
    ] {
        let mut seed = vec![pick(name)];
        seed.extend(bytes);
        seeds.push(seed);
    }
    seeds
}

/// Valid inputs for the fuzz target `target`.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    let texts = |texts: &[&str]| texts.iter().map(|text| text.as_bytes().to_vec()).collect();
    match target {
        "filter" => texts(&[
            r#"state = ACTIVE AND labels.env = "prod""#,
            r#"action = "CreateTenant" AND create_time >= "2026-01-01T00:00:00Z""#,
            "enabled = true AND value_type = FLAG_TYPE_BOOLEAN",
        ]),
        "page_token" => vec![join(
            b"0190f6a5-8e2b-7c3d-9a1b-2c3d4e5f6a7b",
            b"fingerprint",
        )],
        "names" => texts(&[
            "tenants/0190f6a5-8e2b-7c3d-9a1b-2c3d4e5f6a7b",
            "tenants/slug:acme/apiKeys/0190f6a5-8e2b-7c3d-9a1b-2c3d4e5f6a7b",
            "tenants/slug:acme/quotaOverrides/api.calls",
            "plans/pro/flagOverrides/beta",
            "tenants/slug:acme/config/versions/3",
            "app.acme.example.com",
        ]),
        "config" => config(),
        "flags" => flags(),
        "usage_events" => usage_events(),
        "envoy_descriptors" => envoy_descriptors(),
        "tenant_archive" => tenant_archive(),
        "request" => request(),
        _ => Vec::new(),
    }
}
