//! Encoding of flags, overrides and evaluations as the API shows them; the
//! request side is [`crate::flags::grpc::convert`].

use crate::flags::eval::{ErrorCode, Outcome, Reason};
use crate::flags::flag::{Flag, FlagOverride, FlagType, Operator, Rollout, Rule, Serve};
use crate::flags::reads::Evaluation;
use crate::pb;
use crate::rpc::convert::{json_value, timestamp};

fn flag_type_to(kind: FlagType) -> pb::FlagType {
    match kind {
        FlagType::Boolean => pb::FlagType::Boolean,
        FlagType::String => pb::FlagType::String,
        FlagType::Number => pb::FlagType::Number,
        FlagType::Object => pb::FlagType::Object,
    }
}

fn operator_to(op: Operator) -> pb::TargetingOperator {
    use pb::TargetingOperator as Op;
    match op {
        Operator::Equals => Op::Equals,
        Operator::NotEquals => Op::NotEquals,
        Operator::In => Op::In,
        Operator::NotIn => Op::NotIn,
        Operator::StartsWith => Op::StartsWith,
        Operator::EndsWith => Op::EndsWith,
        Operator::Contains => Op::Contains,
        Operator::GreaterThan => Op::GreaterThan,
        Operator::GreaterThanOrEqual => Op::GreaterThanOrEqual,
        Operator::LessThan => Op::LessThan,
        Operator::LessThanOrEqual => Op::LessThanOrEqual,
        Operator::SemverEq => Op::SemverEq,
        Operator::SemverLt => Op::SemverLt,
        Operator::SemverGt => Op::SemverGt,
        Operator::Exists => Op::Exists,
    }
}

fn rollout_to(rollout: &Rollout) -> pb::Rollout {
    pb::Rollout {
        weights: rollout
            .weights
            .iter()
            .map(|(variant, weight)| pb::VariantWeight {
                variant: variant.clone(),
                weight: i32::try_from(*weight).unwrap_or(i32::MAX),
            })
            .collect(),
        bucket_by: rollout.bucket_by.clone(),
        salt: rollout.salt.clone(),
    }
}

fn rules_to(rules: &[Rule]) -> Vec<pb::TargetingRule> {
    rules
        .iter()
        .map(|rule| pb::TargetingRule {
            description: rule.description.clone(),
            conditions: rule
                .conditions
                .iter()
                .map(|condition| pb::TargetingCondition {
                    attribute: condition.attribute.clone(),
                    op: operator_to(condition.op).into(),
                    values: condition.values.iter().cloned().map(json_value).collect(),
                })
                .collect(),
            serve: Some(match &rule.serve {
                Serve::Variant(variant) => pb::targeting_rule::Serve::Variant(variant.clone()),
                Serve::Rollout(rollout) => pb::targeting_rule::Serve::Rollout(rollout_to(rollout)),
            }),
        })
        .collect()
}

/// A flag as the API shows it. For the flags of
/// [`crate::flags::directory::Flags::resolved_for`] this is the resolved
/// definition a WatchConfig snapshot carries.
impl From<&Flag> for pb::Flag {
    fn from(flag: &Flag) -> Self {
        pb::Flag {
            name: flag.resource_name(),
            key: flag.key.clone(),
            description: flag.spec.description.clone(),
            value_type: flag_type_to(flag.value_type).into(),
            variants: flag
                .spec
                .variants
                .iter()
                .map(|(name, value)| (name.clone(), json_value(value.clone())))
                .collect(),
            default_variant: flag.spec.default_variant.clone(),
            enabled: flag.spec.enabled,
            rules: rules_to(&flag.spec.rules),
            default_rollout: flag.spec.default_rollout.as_ref().map(rollout_to),
            create_time: Some(timestamp(flag.stamps.create_time)),
            update_time: Some(timestamp(flag.stamps.update_time)),
            etag: flag.etag(),
        }
    }
}

/// An override as the API shows it.
pub fn flag_override(found: &FlagOverride) -> pb::FlagOverride {
    pb::FlagOverride {
        name: found.resource_name(),
        flag: found.flag.clone(),
        enabled: found.spec.enabled,
        rules: rules_to(&found.spec.rules),
        variant: found.spec.variant.clone().unwrap_or_default(),
        description: found.spec.description.clone(),
        create_time: Some(timestamp(found.stamps.create_time)),
        update_time: Some(timestamp(found.stamps.update_time)),
        etag: found.etag(),
    }
}

fn reason_to(reason: Reason) -> pb::EvaluationReason {
    match reason {
        Reason::Static => pb::EvaluationReason::Static,
        Reason::TargetingMatch => pb::EvaluationReason::TargetingMatch,
        Reason::Split => pb::EvaluationReason::Split,
        Reason::Default => pb::EvaluationReason::Default,
        Reason::Disabled => pb::EvaluationReason::Disabled,
    }
}

fn error_code_to(code: ErrorCode) -> pb::EvaluationErrorCode {
    match code {
        ErrorCode::ProviderNotReady => pb::EvaluationErrorCode::ProviderNotReady,
        ErrorCode::FlagNotFound => pb::EvaluationErrorCode::FlagNotFound,
        ErrorCode::ParseError => pb::EvaluationErrorCode::ParseError,
        ErrorCode::TypeMismatch => pb::EvaluationErrorCode::TypeMismatch,
        ErrorCode::TargetingKeyMissing => pb::EvaluationErrorCode::TargetingKeyMissing,
        ErrorCode::InvalidContext => pb::EvaluationErrorCode::InvalidContext,
    }
}

/// An evaluation as the API shows it.
pub fn evaluation(found: &Evaluation<'_>) -> pb::FlagEvaluation {
    match &found.outcome {
        Outcome::Served {
            variant,
            value,
            reason,
        } => pb::FlagEvaluation {
            flag: found.flag.to_owned(),
            value: Some(json_value((*value).clone())),
            variant: (*variant).to_owned(),
            reason: reason_to(*reason).into(),
            error_code: pb::EvaluationErrorCode::Unspecified.into(),
            error_message: String::new(),
        },
        Outcome::Failed { code, message } => pb::FlagEvaluation {
            flag: found.flag.to_owned(),
            value: None,
            variant: String::new(),
            reason: pb::EvaluationReason::Error.into(),
            error_code: error_code_to(*code).into(),
            error_message: message.clone(),
        },
    }
}
