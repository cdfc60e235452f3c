//! Conversions between the flag messages of ConfigService and the domain's
//! flags, overrides and evaluations. Requests are validated here, in
//! `TryFrom`, with every violation named by its field path; what needs the
//! stored flag (which variants exist for an override) is checked by the
//! directory. Answers are encoded in [`crate::flags::grpc::encode`].

use std::collections::BTreeMap;

use prost_types::FieldMask;
use serde_json::Value;
use uuid::Uuid;

use crate::common::ids::{TenantRef, request_id};
use crate::config::json_of;
use crate::error::{Error, FieldViolation, Result};
use crate::flags::directory::{FlagPatch, NewFlag};
use crate::flags::eval::EvalContext;
use crate::flags::flag::{
    Condition, FlagSpec, FlagType, Operator, OverrideSpec, OwnerRef, Rollout, Rule, Serve,
    parse_flag_name, parse_override_name,
};
use crate::flags::reads::EvaluationRequest;
use crate::flags::validate as flag_validate;
use crate::pb;
use crate::rpc::convert::{etag, into_result};

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

fn rollout_from(
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
                violations.push(FieldViolation::new(
                    format!("{field}.weights[{index}].weight"),
                    "must be 0 or more",
                ));
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
        violations.push(FieldViolation::new(
            format!("{field}.op"),
            "must be a TargetingOperator other than UNSPECIFIED",
        ));
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
fn rules_from(
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
                        violations.push(FieldViolation::new(
                            prefix.clone(),
                            "a rule serves a variant or a rollout; set one",
                        ));
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

fn variants_from(flag: &pb::Flag, violations: &mut Vec<FieldViolation>) -> BTreeMap<String, Value> {
    flag.variants
        .iter()
        .map(|(name, value)| {
            let field = format!("flag.variants[{name:?}]");
            (name.clone(), value_of(value, &field, violations))
        })
        .collect()
}

/// A validated CreateFlag request.
#[derive(Debug, Clone)]
pub struct CreateFlag {
    /// The flag.
    pub new: NewFlag,
    /// The idempotency key.
    pub request_id: Option<Uuid>,
}

impl TryFrom<&pb::CreateFlagRequest> for CreateFlag {
    type Error = Error;

    fn try_from(request: &pb::CreateFlagRequest) -> Result<Self> {
        let Some(flag) = &request.flag else {
            return Err(Error::invalid_field("flag", "is required"));
        };
        let request_id = request_id(&request.request_id)?;
        let mut violations = Vec::new();
        crate::flags::key::key(&request.flag_id, "flag_id", &mut violations);
        let value_type = flag_type(flag.value_type);
        if value_type.is_none() {
            violations.push(FieldViolation::new(
                "flag.value_type",
                "is required: BOOLEAN, STRING, NUMBER or OBJECT",
            ));
        }
        let spec = FlagSpec {
            description: flag.description.clone(),
            variants: variants_from(flag, &mut violations),
            default_variant: flag.default_variant.clone(),
            enabled: flag.enabled,
            rules: rules_from(&flag.rules, "flag.rules", &mut violations),
            default_rollout: flag
                .default_rollout
                .as_ref()
                .map(|rollout| rollout_from(rollout, "flag.default_rollout", &mut violations)),
        };
        // Without a type the values cannot be checked; the missing type is
        // reported already.
        if let Some(value_type) = value_type {
            flag_validate::flag_spec(&spec, value_type, "flag", &mut violations);
        }
        let value_type = value_type.unwrap_or(FlagType::Boolean);
        let new = NewFlag {
            key: request.flag_id.clone(),
            value_type,
            spec,
        };
        into_result(CreateFlag { new, request_id }, violations)
    }
}

/// A validated UpdateFlag request.
#[derive(Debug, Clone)]
pub struct UpdateFlag {
    /// The flag key.
    pub key: String,
    /// Apply only while the flag has this etag.
    pub etag: Option<String>,
    /// The change.
    pub patch: FlagPatch,
}

const MUTABLE: &str = "description, variants, default_variant, enabled, rules, default_rollout";

fn present_fields(flag: &pb::Flag) -> Vec<&'static str> {
    let mut present = Vec::new();
    if !flag.description.is_empty() {
        present.push("description");
    }
    if !flag.variants.is_empty() {
        present.push("variants");
    }
    if !flag.default_variant.is_empty() {
        present.push("default_variant");
    }
    if flag.enabled {
        present.push("enabled");
    }
    if !flag.rules.is_empty() {
        present.push("rules");
    }
    if flag.default_rollout.is_some() {
        present.push("default_rollout");
    }
    present
}

impl TryFrom<&pb::UpdateFlagRequest> for UpdateFlag {
    type Error = Error;

    fn try_from(request: &pb::UpdateFlagRequest) -> Result<Self> {
        let Some(flag) = &request.flag else {
            return Err(Error::invalid_field("flag", "is required"));
        };
        let key = parse_flag_name(&flag.name, "flag.name")?;
        let paths: Vec<&str> = match request.update_mask.as_ref() {
            Some(FieldMask { paths }) if !paths.is_empty() => {
                paths.iter().map(String::as_str).collect()
            }
            _ => present_fields(flag),
        };
        let mut violations = Vec::new();
        let mut patch = FlagPatch::default();
        for path in paths {
            let all = path == "*";
            if all || path == "description" {
                patch.description = Some(flag.description.clone());
            }
            if all || path == "variants" {
                patch.variants = Some(variants_from(flag, &mut violations));
            }
            if all || path == "default_variant" {
                patch.default_variant = Some(flag.default_variant.clone());
            }
            if all || path == "enabled" {
                patch.enabled = Some(flag.enabled);
            }
            if all || path == "rules" {
                patch.rules = Some(rules_from(&flag.rules, "flag.rules", &mut violations));
            }
            if all || path == "default_rollout" {
                patch.default_rollout =
                    Some(flag.default_rollout.as_ref().map(|rollout| {
                        rollout_from(rollout, "flag.default_rollout", &mut violations)
                    }));
            }
            if !all && !MUTABLE.split(", ").any(|field| field == path) {
                violations.push(FieldViolation::new(
                    "update_mask",
                    format!("{path:?} is not a mutable field of Flag; mutable fields: {MUTABLE}"),
                ));
            }
        }
        let update = UpdateFlag {
            key,
            etag: etag(&flag.etag).map(str::to_owned),
            patch,
        };
        into_result(update, violations)
    }
}

/// A validated SetFlagOverride request.
#[derive(Debug, Clone)]
pub struct SetOverride {
    /// Whose override.
    pub owner: OwnerRef,
    /// The flag key.
    pub flag: String,
    /// Apply only while the override has this etag.
    pub etag: Option<String>,
    /// The content.
    pub spec: OverrideSpec,
}

impl TryFrom<&pb::SetFlagOverrideRequest> for SetOverride {
    type Error = Error;

    fn try_from(request: &pb::SetFlagOverrideRequest) -> Result<Self> {
        let Some(given) = &request.flag_override else {
            return Err(Error::invalid_field("flag_override", "is required"));
        };
        let (owner, flag) = parse_override_name(&given.name, "flag_override.name")?;
        let mut violations = Vec::new();
        let spec = OverrideSpec {
            enabled: given.enabled,
            rules: rules_from(&given.rules, "flag_override.rules", &mut violations),
            variant: (!given.variant.is_empty()).then(|| given.variant.clone()),
            description: given.description.clone(),
        };
        let set = SetOverride {
            owner,
            flag,
            etag: etag(&given.etag).map(str::to_owned),
            spec,
        };
        into_result(set, violations)
    }
}

/// A validated EvaluateFlag or EvaluateFlags request.
#[derive(Debug, Clone)]
pub struct Evaluate {
    /// The tenant.
    pub parent: TenantRef,
    /// What to evaluate.
    pub request: EvaluationRequest,
}

/// The most flags one EvaluateFlags call may name.
const MAX_EVALUATED: usize = 1000;

/// The context as sent. Attributes that break the proto's rules are kept
/// as they are: evaluation answers them with INVALID_CONTEXT, not a gRPC
/// error. Values that are not even JSON (non-finite numbers) become null,
/// which evaluation refuses the same way.
fn context_from(context: Option<&pb::EvaluationContext>) -> EvalContext {
    let Some(context) = context else {
        return EvalContext::default();
    };
    EvalContext {
        targeting_key: (!context.targeting_key.is_empty())
            .then(|| Value::from(context.targeting_key.clone())),
        attributes: context
            .attributes
            .iter()
            .map(|(name, value)| {
                (
                    name.clone(),
                    json_of(value, "context").unwrap_or(Value::Null),
                )
            })
            .collect(),
    }
}

impl TryFrom<&pb::EvaluateFlagRequest> for Evaluate {
    type Error = Error;

    fn try_from(request: &pb::EvaluateFlagRequest) -> Result<Self> {
        let parent = TenantRef::parse_name(&request.parent, "parent")?;
        if request.flag.is_empty() {
            return Err(Error::invalid_field("flag", "is required: the flag key"));
        }
        let expected_type = match pb::FlagType::try_from(request.expected_type) {
            Ok(pb::FlagType::Unspecified) => None,
            Ok(_) => flag_type(request.expected_type),
            Err(_) => return Err(Error::invalid_field("expected_type", "is not a FlagType")),
        };
        crate::flags::grpc::context::check(request.context.as_ref())?;
        Ok(Self {
            parent,
            request: EvaluationRequest {
                flags: vec![request.flag.clone()],
                context: context_from(request.context.as_ref()),
                expected_type,
            },
        })
    }
}

impl TryFrom<&pb::EvaluateFlagsRequest> for Evaluate {
    type Error = Error;

    fn try_from(request: &pb::EvaluateFlagsRequest) -> Result<Self> {
        let parent = TenantRef::parse_name(&request.parent, "parent")?;
        if request.flags.len() > MAX_EVALUATED {
            return Err(Error::invalid_field(
                "flags",
                format!("at most {MAX_EVALUATED} flags per call"),
            ));
        }
        if let Some(index) = request.flags.iter().position(String::is_empty) {
            return Err(Error::invalid_field(format!("flags[{index}]"), "is empty"));
        }
        crate::flags::grpc::context::check(request.context.as_ref())?;
        Ok(Self {
            parent,
            request: EvaluationRequest {
                flags: request.flags.clone(),
                context: context_from(request.context.as_ref()),
                expected_type: None,
            },
        })
    }
}

pub use crate::flags::grpc::encode::{evaluation, flag, flag_override};
