//! Conversions between the flag messages of ConfigService and the domain's
//! flags, overrides and evaluations. Requests are validated here, in
//! `TryFrom`, with every violation named by its field path; what needs the
//! stored flag (which variants exist for an override) is checked by the
//! directory. Answers are encoded in [`crate::flags::grpc::encode`].

use serde_json::Value;
use uuid::Uuid;

use crate::common::ids::{TenantRef, request_id};
use crate::config::json_of;
use crate::error::{Error, Result, Violations};
use crate::flags::directory::{FlagPatch, NewFlag};
use crate::flags::eval::EvalContext;
use crate::flags::flag::{
    FlagSpec, FlagType, OverrideSpec, OwnerRef, parse_flag_name, parse_override_name,
};
use crate::flags::grpc::decode::{flag_type, rollout_from, rules_from, variants_from};
use crate::flags::reads::EvaluationRequest;
use crate::flags::validate;
use crate::pb;
use crate::rpc::convert::{etag, into_result, required};
use crate::rpc::mask::{not_mutable, update_paths};

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
        let flag = required(request.flag.as_ref(), "flag")?;
        let request_id = request_id(&request.request_id)?;
        let mut violations = Vec::new();
        crate::flags::key::key(&request.flag_id, "flag_id", &mut violations);
        let value_type = flag_type(flag.value_type);
        if value_type.is_none() {
            violations.refuse(
                "flag.value_type",
                "is required: BOOLEAN, STRING, NUMBER or OBJECT",
            );
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
            validate::flag_spec(&spec, value_type, "flag", &mut violations);
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

/// The fields UpdateFlag may change, in the order `*` stands for them,
/// each with whether `flag` sets it.
fn mutable_fields(flag: &pb::Flag) -> [(&'static str, bool); 6] {
    [
        ("description", !flag.description.is_empty()),
        ("variants", !flag.variants.is_empty()),
        ("default_variant", !flag.default_variant.is_empty()),
        ("enabled", flag.enabled),
        ("rules", !flag.rules.is_empty()),
        ("default_rollout", flag.default_rollout.is_some()),
    ]
}

impl TryFrom<&pb::UpdateFlagRequest> for UpdateFlag {
    type Error = Error;

    fn try_from(request: &pb::UpdateFlagRequest) -> Result<Self> {
        let flag = required(request.flag.as_ref(), "flag")?;
        let key = parse_flag_name(&flag.name, "flag.name")?;
        let fields = mutable_fields(flag);
        let mut violations = Vec::new();
        let mut patch = FlagPatch::default();
        for path in update_paths(request.update_mask.as_ref(), &fields) {
            match path {
                "description" => patch.description = Some(flag.description.clone()),
                "variants" => patch.variants = Some(variants_from(flag, &mut violations)),
                "default_variant" => patch.default_variant = Some(flag.default_variant.clone()),
                "enabled" => patch.enabled = Some(flag.enabled),
                "rules" => {
                    patch.rules = Some(rules_from(&flag.rules, "flag.rules", &mut violations));
                }
                "default_rollout" => {
                    patch.default_rollout = Some(flag.default_rollout.as_ref().map(|rollout| {
                        rollout_from(rollout, "flag.default_rollout", &mut violations)
                    }));
                }
                other => violations.push(not_mutable(other, "Flag", &fields)),
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
        let given = required(request.flag_override.as_ref(), "flag_override")?;
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
