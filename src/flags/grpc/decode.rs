//! The parts of a flag definition as a request carries them (types,
//! operators, values, rules, rollouts, variants) decoded into the domain's,
//! each malformed one recorded as a violation named by its field path, so
//! that a request's every problem is answered at once. The requests
//! themselves are in [`crate::flags::grpc::convert`].

use std::collections::BTreeMap;

use serde_json::Value;

use crate::config::json_of;
use crate::error::{Error, FieldViolation, Violations};
use crate::flags::flag::{Condition, FlagType, Operator, Rollout, Rule, Serve};
use crate::pb;

/// The proto type as the domain's; `None` for UNSPECIFIED or unknown.
pub fn flag_type(raw: i32) -> Option<FlagType> {
    match pb::FlagType::try_from(raw).ok()? {
        pb::FlagType::Unspecified => None,
        pb::FlagType::Boolean => Some(FlagType::Boolean),
        pb::FlagType::String => Some(FlagType::String),
        pb::FlagType::Number => Some(FlagType::Number),
        pb::FlagType::Object => Some(FlagType::Object),
    }
}

fn operator(raw: i32) -> Option<Operator> {
    use pb::TargetingOperator as Op;
    Some(match Op::try_from(raw).ok()? {
        Op::Unspecified => return None,
        Op::Equals => Operator::Equals,
        Op::NotEquals => Operator::NotEquals,
        Op::In => Operator::In,
        Op::NotIn => Operator::NotIn,
        Op::StartsWith => Operator::StartsWith,
        Op::EndsWith => Operator::EndsWith,
        Op::Contains => Operator::Contains,
        Op::GreaterThan => Operator::GreaterThan,
        Op::GreaterThanOrEqual => Operator::GreaterThanOrEqual,
        Op::LessThan => Operator::LessThan,
        Op::LessThanOrEqual => Operator::LessThanOrEqual,
        Op::SemverEq => Operator::SemverEq,
        Op::SemverLt => Operator::SemverLt,
        Op::SemverGt => Operator::SemverGt,
        Op::Exists => Operator::Exists,
    })
}

/// Reads a value, recording a violation (and answering null) when it
/// cannot be one.
fn value_of(
    value: &prost_types::Value,
    field: &str,
    violations: &mut Vec<FieldViolation>,
) -> Value {
    json_of(value, field).unwrap_or_else(|error| {
        if let Error::InvalidArgument(found) = error {
            violations.extend(found);
        }
        Value::Null
    })
}

pub(crate) fn rollout_from(
    rollout: &pb::Rollout,
    field: &str,
    violations: &mut Vec<FieldViolation>,
) -> Rollout {
    let weights = rollout
        .weights
        .iter()
        .enumerate()
        .map(|(index, weight)| {
            let amount = u32::try_from(weight.weight).unwrap_or_else(|_| {
                violations.refuse(
                    format!("{field}.weights[{index}].weight"),
                    "must be 0 or more",
                );
                0
            });
            (weight.variant.clone(), amount)
        })
        .collect();
    Rollout {
        weights,
        bucket_by: rollout.bucket_by.clone(),
        salt: rollout.salt.clone(),
    }
}

fn condition_from(
    condition: &pb::TargetingCondition,
    field: &str,
    violations: &mut Vec<FieldViolation>,
) -> Condition {
    let op = operator(condition.op).unwrap_or_else(|| {
        violations.refuse(
            format!("{field}.op"),
            "must be a TargetingOperator other than UNSPECIFIED",
        );
        Operator::Exists
    });
    let values = condition
        .values
        .iter()
        .enumerate()
        .map(|(index, value)| value_of(value, &format!("{field}.values[{index}]"), violations))
        .collect();
    Condition::new(condition.attribute.clone(), op, values)
}

/// The rules of a request, recording what is malformed.
pub(crate) fn rules_from(
    rules: &[pb::TargetingRule],
    field: &str,
    violations: &mut Vec<FieldViolation>,
) -> Vec<Rule> {
    rules
        .iter()
        .enumerate()
        .map(|(index, rule)| {
            let prefix = format!("{field}[{index}]");
            let conditions = rule
                .conditions
                .iter()
                .enumerate()
                .map(|(at, found)| {
                    condition_from(found, &format!("{prefix}.conditions[{at}]"), violations)
                })
                .collect();
            let serve =
                match &rule.serve {
                    Some(pb::targeting_rule::Serve::Variant(variant)) => {
                        Serve::Variant(variant.clone())
                    }
                    Some(pb::targeting_rule::Serve::Rollout(rollout)) => Serve::Rollout(
                        rollout_from(rollout, &format!("{prefix}.rollout"), violations),
                    ),
                    None => {
                        violations.refuse(
                            prefix.clone(),
                            "a rule serves a variant or a rollout; set one",
                        );
                        Serve::Variant(String::new())
                    }
                };
            Rule {
                description: rule.description.clone(),
                conditions,
                serve,
            }
        })
        .collect()
}

pub(crate) fn variants_from(
    flag: &pb::Flag,
    violations: &mut Vec<FieldViolation>,
) -> BTreeMap<String, Value> {
    flag.variants
        .iter()
        .map(|(name, value)| {
            let field = format!("flag.variants[{name:?}]");
            (name.clone(), value_of(value, &field, violations))
        })
        .collect()
}
