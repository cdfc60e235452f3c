//! Flag evaluation, pure: a flag, the overrides of the tenant and its plan,
//! and who asks, in; a variant and an OpenFeature reason (or an error code)
//! out. No I/O, so the hot path is memory only and every replica answers
//! alike.
//!
//! The order is the one documented on `message Flag`: a disabled flag
//! serves its default (DISABLED); then the tenant override's rules and
//! variant, the plan override's rules and variant, the flag's rules
//! (TARGETING_MATCH); then the default rollout (SPLIT); else the default
//! variant (DEFAULT, or STATIC when there was nothing to evaluate).
//!
//! Rollouts split contexts into buckets as [`crate::flags::bucket`]
//! documents.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde_json::Value;

use crate::flags::bucket::split;
use crate::flags::flag::{Condition, Flag, FlagSpec, Operator, OverrideSpec, Rollout, Rule, Serve};

pub use crate::flags::semver::SemVer;

/// OpenFeature's resolution reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Nothing to evaluate: the default variant is the only answer.
    Static,
    /// A rule or an override matched.
    TargetingMatch,
    /// The default rollout picked the variant.
    Split,
    /// Nothing matched; the default variant.
    Default,
    /// The flag is disabled; the default variant.
    Disabled,
}

/// OpenFeature's error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// Definitions could not be loaded.
    ProviderNotReady,
    /// No flag has the key.
    FlagNotFound,
    /// A stored definition could not be interpreted.
    ParseError,
    /// The flag is not of the expected type.
    TypeMismatch,
    /// A rollout hashes the targeting key and there is none.
    TargetingKeyMissing,
    /// A reserved attribute name or a value that is not a scalar.
    InvalidContext,
}

/// What one evaluation produced. It borrows from the flag evaluated, so
/// the hot path copies nothing until the answer is encoded.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome<'a> {
    /// A value was served.
    Served {
        /// The variant.
        variant: &'a str,
        /// Its value.
        value: &'a Value,
        /// Why.
        reason: Reason,
    },
    /// The evaluation failed.
    Failed {
        /// Which way.
        code: ErrorCode,
        /// In words.
        message: String,
    },
}

impl Outcome<'_> {
    /// A failure with `code` and `message`.
    pub fn failed(code: ErrorCode, message: impl Into<String>) -> Self {
        Outcome::Failed {
            code,
            message: message.into(),
        }
    }
}

/// Who a flag is evaluated for: the caller's evaluation context.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvalContext {
    /// The targeting key as a JSON string; `None` when empty.
    pub targeting_key: Option<Value>,
    /// The attributes, as sent.
    pub attributes: BTreeMap<String, Value>,
}

/// The attribute name of the targeting key in conditions and rollouts.
pub const TARGETING_KEY: &str = "targetingKey";

impl EvalContext {
    /// Why this context is refused (INVALID_CONTEXT), if it is.
    pub fn problem(&self) -> Option<String> {
        self.attributes.iter().find_map(|(name, value)| {
            if name == TARGETING_KEY || name.starts_with("tenant.") {
                return Some(format!(
                    "the attribute name {name:?} is reserved; `targetingKey` and `tenant.*` are set by tenantd"
                ));
            }
            let scalar = value.is_string() || value.is_number() || value.is_boolean();
            (!scalar).then(|| {
                format!("the attribute {name:?} must be a string, a number or a boolean")
            })
        })
    }
}

/// The attributes tenantd sets for the tenant evaluated: `tenant.id`,
/// `tenant.slug`, `tenant.plan` and `tenant.labels.{key}`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TenantFacts {
    /// By attribute name.
    pub attributes: BTreeMap<String, Value>,
}

/// Who asks: the context, and the tenant it asks within.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The caller's context.
    pub context: &'a EvalContext,
    /// The tenant's own attributes.
    pub tenant: &'a TenantFacts,
}

impl Subject<'_> {
    fn attribute(&self, name: &str) -> Option<&Value> {
        if name == TARGETING_KEY {
            return self.context.targeting_key.as_ref();
        }
        if name.starts_with("tenant.") {
            return self.tenant.attributes.get(name);
        }
        self.context.attributes.get(name)
    }
}

/// The overrides that apply to a tenant: its own and its plan's.
#[derive(Debug, Clone, Copy, Default)]
pub struct Layers<'a> {
    /// The tenant's override.
    pub tenant: Option<&'a OverrideSpec>,
    /// The tenant's plan's override.
    pub plan: Option<&'a OverrideSpec>,
}

/// What a rule, a rollout or an override variant decided.
enum Decision<'a> {
    /// Serve this variant.
    Serve(&'a str),
    /// Try the next.
    Pass,
    /// Stop with this error.
    Fail(ErrorCode, String),
}

fn missing_targeting_key(key: &str) -> Decision<'static> {
    Decision::Fail(
        ErrorCode::TargetingKeyMissing,
        format!("flag {key:?} splits by the targeting key and the context has none"),
    )
}

/// Splits by `rollout`; `Pass` when the context lacks a bucketing
/// attribute other than the targeting key.
fn roll<'r>(rollout: &'r Rollout, key: &str, subject: Subject<'_>) -> Decision<'r> {
    let by_targeting_key = rollout.bucket_by.is_empty() || rollout.bucket_by == TARGETING_KEY;
    let attribute = if by_targeting_key {
        TARGETING_KEY
    } else {
        &rollout.bucket_by
    };
    match subject.attribute(attribute) {
        Some(value) => split(rollout, key, value).map_or(Decision::Pass, Decision::Serve),
        None if by_targeting_key => missing_targeting_key(key),
        None => Decision::Pass,
    }
}

fn try_rules<'r>(rules: &'r [Rule], key: &str, subject: Subject<'_>) -> Decision<'r> {
    for rule in rules {
        if !rule.conditions.iter().all(|found| holds(found, subject)) {
            continue;
        }
        match &rule.serve {
            Serve::Variant(variant) => return Decision::Serve(variant),
            Serve::Rollout(rollout) => match roll(rollout, key, subject) {
                Decision::Pass => continue,
                decided => return decided,
            },
        }
    }
    Decision::Pass
}

fn served<'a>(flag: &'a FlagSpec, key: &str, variant: &str, reason: Reason) -> Outcome<'a> {
    match flag.variants.get_key_value(variant) {
        Some((variant, value)) => Outcome::Served {
            variant,
            value,
            reason,
        },
        None => Outcome::failed(
            ErrorCode::ParseError,
            format!("flag {key:?} names the unknown variant {variant:?}"),
        ),
    }
}

/// Evaluates `flag` with the overrides `layers` for `subject`.
pub fn evaluate<'a>(flag: &'a Flag, layers: Layers<'_>, subject: Subject<'_>) -> Outcome<'a> {
    let spec = &flag.spec;
    let key = flag.key.as_str();
    let enabled = layers
        .tenant
        .and_then(|layer| layer.enabled)
        .or(layers.plan.and_then(|layer| layer.enabled))
        .unwrap_or(spec.enabled);
    if !enabled {
        return served(spec, key, &spec.default_variant, Reason::Disabled);
    }
    for layer in [layers.tenant, layers.plan].into_iter().flatten() {
        let decided = match try_rules(&layer.rules, key, subject) {
            Decision::Pass => layer
                .variant
                .as_deref()
                .map_or(Decision::Pass, Decision::Serve),
            decided => decided,
        };
        match decided {
            Decision::Serve(variant) => {
                return served(spec, key, variant, Reason::TargetingMatch);
            }
            Decision::Fail(code, message) => return Outcome::Failed { code, message },
            Decision::Pass => {}
        }
    }
    match try_rules(&spec.rules, key, subject) {
        Decision::Serve(variant) => return served(spec, key, variant, Reason::TargetingMatch),
        Decision::Fail(code, message) => return Outcome::Failed { code, message },
        Decision::Pass => {}
    }
    if let Some(rollout) = &spec.default_rollout {
        match roll(rollout, key, subject) {
            Decision::Serve(variant) => return served(spec, key, variant, Reason::Split),
            Decision::Fail(code, message) => return Outcome::Failed { code, message },
            Decision::Pass => return served(spec, key, &spec.default_variant, Reason::Default),
        }
    }
    let targeted = [layers.tenant, layers.plan]
        .into_iter()
        .flatten()
        .any(OverrideSpec::targets);
    let reason = if spec.rules.is_empty() && !targeted {
        Reason::Static
    } else {
        Reason::Default
    };
    served(spec, key, &spec.default_variant, reason)
}

/// `flag` as it applies to a tenant with the overrides `layers`, as
/// `WatchConfigSnapshot` documents it: `enabled` from the tenant's
/// override, else the plan's, else the flag's; the rules of the tenant's
/// override, its variant as a rule without conditions, the plan's likewise,
/// then the flag's. Evaluating the result without overrides answers as
/// [`evaluate`] does with them.
pub fn resolve(flag: &Flag, layers: Layers<'_>) -> Flag {
    let mut resolved = flag.clone();
    resolved.spec.enabled = layers
        .tenant
        .and_then(|layer| layer.enabled)
        .or(layers.plan.and_then(|layer| layer.enabled))
        .unwrap_or(flag.spec.enabled);
    let mut rules = Vec::new();
    for (layer, origin) in [(layers.tenant, "tenant"), (layers.plan, "plan")] {
        let Some(layer) = layer else { continue };
        rules.extend(layer.rules.iter().cloned());
        if let Some(variant) = &layer.variant {
            rules.push(Rule {
                description: format!("the {origin} override's variant"),
                conditions: Vec::new(),
                serve: Serve::Variant(variant.clone()),
            });
        }
    }
    rules.extend(flag.spec.rules.iter().cloned());
    resolved.spec.rules = rules;
    resolved
}

fn equal(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => left == right,
    }
}

fn compare_numbers(attribute: &Value, value: &Value) -> Option<Ordering> {
    attribute.as_f64()?.partial_cmp(&value.as_f64()?)
}

fn compare_versions(attribute: &Value, condition: &Condition) -> Option<Ordering> {
    let value = condition.version()?;
    let attribute = SemVer::parse(attribute.as_str()?)?;
    Some(attribute.cmp(&value.as_semver()))
}

fn any_text(attribute: &Value, values: &[Value], test: impl Fn(&str, &str) -> bool) -> bool {
    attribute.as_str().is_some_and(|text| {
        values
            .iter()
            .filter_map(Value::as_str)
            .any(|value| test(text, value))
    })
}

/// Whether `condition` holds for `subject`. Absent attributes and values
/// of another type than the operator's make it not hold.
fn holds(condition: &Condition, subject: Subject<'_>) -> bool {
    let Some(attribute) = subject.attribute(&condition.attribute) else {
        return false;
    };
    let values = condition.values.as_slice();
    let first = values.first();
    let number = |accept: fn(Ordering) -> bool| {
        first
            .and_then(|value| compare_numbers(attribute, value))
            .is_some_and(accept)
    };
    let version =
        |accept: fn(Ordering) -> bool| compare_versions(attribute, condition).is_some_and(accept);
    match condition.op {
        Operator::Equals => first.is_some_and(|value| equal(attribute, value)),
        Operator::NotEquals => first.is_some_and(|value| !equal(attribute, value)),
        Operator::In => values.iter().any(|value| equal(attribute, value)),
        Operator::NotIn => !values.iter().any(|value| equal(attribute, value)),
        Operator::StartsWith => any_text(attribute, values, |text, value| text.starts_with(value)),
        Operator::EndsWith => any_text(attribute, values, |text, value| text.ends_with(value)),
        Operator::Contains => any_text(attribute, values, |text, value| text.contains(value)),
        Operator::GreaterThan => number(Ordering::is_gt),
        Operator::GreaterThanOrEqual => number(Ordering::is_ge),
        Operator::LessThan => number(Ordering::is_lt),
        Operator::LessThanOrEqual => number(Ordering::is_le),
        Operator::SemverEq => version(Ordering::is_eq),
        Operator::SemverLt => version(Ordering::is_lt),
        Operator::SemverGt => version(Ordering::is_gt),
        Operator::Exists => true,
    }
}

#[cfg(test)]
#[path = "eval_tests.rs"]
mod tests;
