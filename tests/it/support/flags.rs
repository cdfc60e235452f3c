//! Builders for the flag tests: clients, flags, rules and evaluations.

use serde_json::Value;
use tenantd::pb;
use tenantd::pb::config_service_client::ConfigServiceClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use super::server::{ADMIN_TOKEN, Credentials};

/// A ConfigService client sending fixed credentials.
pub type Configs = ConfigServiceClient<InterceptedService<Channel, Credentials>>;

/// A ConfigService client on `channel` with `secret` as bearer.
pub fn configs(channel: &Channel, secret: &str) -> Configs {
    ConfigServiceClient::with_interceptor(channel.clone(), Credentials::bearer(secret))
}

/// A ConfigService client acting as the operator.
pub fn admin(channel: &Channel) -> Configs {
    configs(channel, ADMIN_TOKEN)
}

/// A JSON value as a protobuf value.
pub fn value(json: Value) -> prost_types::Value {
    tenantd::rpc::convert::json_value(json)
}

/// A boolean flag `on`/`off` defaulting to `off`, enabled, with `rules`.
pub fn boolean_flag(rules: Vec<pb::TargetingRule>) -> pb::Flag {
    pb::Flag {
        description: "a test flag".to_owned(),
        value_type: pb::FlagType::Boolean.into(),
        variants: [
            ("on".to_owned(), value(Value::Bool(true))),
            ("off".to_owned(), value(Value::Bool(false))),
        ]
        .into(),
        default_variant: "off".to_owned(),
        enabled: true,
        rules,
        ..Default::default()
    }
}

/// A rule serving `variant` when `attribute op values` holds.
pub fn rule(
    attribute: &str,
    op: pb::TargetingOperator,
    values: &[Value],
    variant: &str,
) -> pb::TargetingRule {
    pb::TargetingRule {
        description: String::new(),
        conditions: vec![pb::TargetingCondition {
            attribute: attribute.to_owned(),
            op: op.into(),
            values: values.iter().cloned().map(value).collect(),
        }],
        serve: Some(pb::targeting_rule::Serve::Variant(variant.to_owned())),
    }
}

/// A rollout of `weights` hashing `bucket_by` with `salt`.
pub fn rollout(weights: &[(&str, i32)], bucket_by: &str, salt: &str) -> pb::Rollout {
    pb::Rollout {
        weights: weights
            .iter()
            .map(|(variant, weight)| pb::VariantWeight {
                variant: (*variant).to_owned(),
                weight: *weight,
            })
            .collect(),
        bucket_by: bucket_by.to_owned(),
        salt: salt.to_owned(),
    }
}

/// Creates `flag` under `key`, failing the test otherwise.
pub async fn create_flag(client: &mut Configs, key: &str, flag: pb::Flag) -> pb::Flag {
    client
        .create_flag(pb::CreateFlagRequest {
            flag: Some(flag),
            flag_id: key.to_owned(),
            request_id: String::new(),
        })
        .await
        .unwrap_or_else(|status| panic!("create flag {key}: {status:?}"))
        .into_inner()
}

/// An evaluation context with `targeting_key` and `attributes`.
pub fn context(targeting_key: &str, attributes: Value) -> pb::EvaluationContext {
    let Value::Object(fields) = attributes else {
        panic!("attributes are an object");
    };
    pb::EvaluationContext {
        targeting_key: targeting_key.to_owned(),
        attributes: fields
            .into_iter()
            .map(|(name, found)| (name, value(found)))
            .collect(),
    }
}

/// Evaluates `flag` for `tenant` (its resource name) and `context`.
pub async fn evaluate(
    client: &mut Configs,
    tenant: &str,
    flag: &str,
    context: pb::EvaluationContext,
) -> pb::FlagEvaluation {
    client
        .evaluate_flag(pb::EvaluateFlagRequest {
            parent: tenant.to_owned(),
            flag: flag.to_owned(),
            context: Some(context),
            expected_type: pb::FlagType::Unspecified.into(),
        })
        .await
        .expect("evaluate flag")
        .into_inner()
        .evaluation
        .expect("an evaluation")
}

/// The variant and reason of `evaluation`.
pub fn outcome(evaluation: &pb::FlagEvaluation) -> (String, pb::EvaluationReason) {
    (evaluation.variant.clone(), evaluation.reason())
}
