//! Validation of flags and overrides against the limits `flag.proto`
//! documents. Each function pushes the violations it finds under the field
//! path it is given, so a request is answered with all its faults at once.

use serde_json::Value;

use crate::error::{FieldViolation, Violations};
use crate::flags::flag::{
    Arity, Condition, FlagSpec, FlagType, Operator, OverrideSpec, Rollout, Rule, Serve,
};
use crate::flags::semver::SemVer;

/// The longest variant name.
pub const MAX_VARIANT_CHARS: usize = 63;
/// The most variants a flag may have.
pub const MAX_VARIANTS: usize = 50;
/// The most rules of a flag or an override.
pub const MAX_RULES: usize = 100;
/// The most conditions of a rule.
pub const MAX_CONDITIONS: usize = 20;
/// The most values of a multi-value condition.
pub const MAX_VALUES: usize = 1000;
/// The longest flag description.
pub const MAX_FLAG_DESCRIPTION_CHARS: usize = 1000;
/// The longest rule description.
pub const MAX_RULE_DESCRIPTION_CHARS: usize = 200;
/// The longest override description.
pub const MAX_OVERRIDE_DESCRIPTION_CHARS: usize = 500;
/// The longest attribute name, bucketing attribute or salt: not in the
/// proto, but a bound keeps stored definitions small.
pub const MAX_NAME_CHARS: usize = 256;

fn push(violations: &mut Vec<FieldViolation>, field: &str, description: impl Into<String>) {
    violations.refuse(field, description);
}

fn variant_name(value: &str, field: &str, violations: &mut Vec<FieldViolation>) {
    let well_formed = !value.is_empty()
        && value.len() <= MAX_VARIANT_CHARS
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_".contains(c));
    if !well_formed {
        push(
            violations,
            field,
            "a variant name is 1 to 63 lowercase letters, digits, `-` or `_`",
        );
    }
}

fn at_most(value: &str, max: usize, field: &str, violations: &mut Vec<FieldViolation>) {
    if value.chars().count() > max {
        push(
            violations,
            field,
            format!("must be at most {max} characters"),
        );
    }
}

/// Checks `spec` for a flag of `value_type`.
pub fn flag_spec(
    spec: &FlagSpec,
    value_type: FlagType,
    prefix: &str,
    violations: &mut Vec<FieldViolation>,
) {
    at_most(
        &spec.description,
        MAX_FLAG_DESCRIPTION_CHARS,
        &format!("{prefix}.description"),
        violations,
    );
    if spec.variants.is_empty() || spec.variants.len() > MAX_VARIANTS {
        push(
            violations,
            &format!("{prefix}.variants"),
            format!("a flag has 1 to {MAX_VARIANTS} variants"),
        );
    }
    for (name, value) in &spec.variants {
        let field = format!("{prefix}.variants[{name:?}]");
        variant_name(name, &field, violations);
        if !value_type.holds(value) {
            push(
                violations,
                &field,
                format!("must be a value of the flag's type {}", value_type.as_str()),
            );
        }
    }
    let known = |name: &str| spec.variants.contains_key(name);
    if !known(&spec.default_variant) {
        push(
            violations,
            &format!("{prefix}.default_variant"),
            "must name one of the flag's variants",
        );
    }
    rules(&spec.rules, &known, &format!("{prefix}.rules"), violations);
    if let Some(rollout) = &spec.default_rollout {
        self::rollout(
            rollout,
            &known,
            &format!("{prefix}.default_rollout"),
            violations,
        );
    }
}

/// Checks an override's own limits and that it names only variants
/// `known` accepts.
pub fn override_spec(
    spec: &OverrideSpec,
    known: &dyn Fn(&str) -> bool,
    prefix: &str,
    violations: &mut Vec<FieldViolation>,
) {
    at_most(
        &spec.description,
        MAX_OVERRIDE_DESCRIPTION_CHARS,
        &format!("{prefix}.description"),
        violations,
    );
    rules(&spec.rules, known, &format!("{prefix}.rules"), violations);
    if let Some(variant) = &spec.variant
        && !known(variant)
    {
        push(
            violations,
            &format!("{prefix}.variant"),
            format!("{variant:?} is not a variant of the flag"),
        );
    }
}

fn rules(
    rules: &[Rule],
    known: &dyn Fn(&str) -> bool,
    prefix: &str,
    violations: &mut Vec<FieldViolation>,
) {
    if rules.len() > MAX_RULES {
        push(violations, prefix, format!("at most {MAX_RULES} rules"));
    }
    for (index, rule) in rules.iter().enumerate() {
        let field = format!("{prefix}[{index}]");
        at_most(
            &rule.description,
            MAX_RULE_DESCRIPTION_CHARS,
            &format!("{field}.description"),
            violations,
        );
        if rule.conditions.len() > MAX_CONDITIONS {
            push(
                violations,
                &format!("{field}.conditions"),
                format!("at most {MAX_CONDITIONS} conditions"),
            );
        }
        for (position, found) in rule.conditions.iter().enumerate() {
            condition(
                found,
                &format!("{field}.conditions[{position}]"),
                violations,
            );
        }
        match &rule.serve {
            Serve::Variant(variant) if !known(variant) => push(
                violations,
                &format!("{field}.variant"),
                format!("{variant:?} is not a variant of the flag"),
            ),
            Serve::Variant(_) => {}
            Serve::Rollout(found) => rollout(found, known, &format!("{field}.rollout"), violations),
        }
    }
}

fn attribute(name: &str, field: &str, violations: &mut Vec<FieldViolation>) {
    if name.is_empty() || name.len() > MAX_NAME_CHARS {
        push(
            violations,
            field,
            format!("an attribute name is 1 to {MAX_NAME_CHARS} characters"),
        );
    }
}

fn condition(condition: &Condition, field: &str, violations: &mut Vec<FieldViolation>) {
    attribute(
        &condition.attribute,
        &format!("{field}.attribute"),
        violations,
    );
    let values = format!("{field}.values");
    let count = condition.values.len();
    match condition.op.arity() {
        Arity::One if count != 1 => {
            push(violations, &values, "this operator takes exactly one value")
        }
        Arity::Many if count == 0 || count > MAX_VALUES => push(
            violations,
            &values,
            format!("this operator takes 1 to {MAX_VALUES} values"),
        ),
        Arity::Zero if count != 0 => push(violations, &values, "EXISTS takes no values"),
        _ => {}
    }
    for (index, value) in condition.values.iter().enumerate() {
        if let Some(problem) = value_problem(condition.op, value) {
            push(violations, &format!("{values}[{index}]"), problem);
        }
    }
}

/// What is wrong with `value` as a value of `op`, if anything.
fn value_problem(op: Operator, value: &Value) -> Option<&'static str> {
    let scalar = value.is_string() || value.is_number() || value.is_boolean();
    match op {
        _ if !scalar => Some("values are strings, numbers or booleans"),
        Operator::StartsWith | Operator::EndsWith | Operator::Contains if !value.is_string() => {
            Some("this operator compares strings")
        }
        Operator::GreaterThan
        | Operator::GreaterThanOrEqual
        | Operator::LessThan
        | Operator::LessThanOrEqual
            if !value.is_number() =>
        {
            Some("this operator compares numbers")
        }
        Operator::SemverEq | Operator::SemverLt | Operator::SemverGt
            if value.as_str().and_then(SemVer::parse).is_none() =>
        {
            Some("must be a semantic version, e.g. 1.4.0 or v2.0.0-rc.1")
        }
        _ => None,
    }
}

fn rollout(
    rollout: &Rollout,
    known: &dyn Fn(&str) -> bool,
    prefix: &str,
    violations: &mut Vec<FieldViolation>,
) {
    if rollout.weights.is_empty() || rollout.weights.len() > MAX_VARIANTS {
        push(
            violations,
            &format!("{prefix}.weights"),
            format!("a rollout has 1 to {MAX_VARIANTS} weights"),
        );
    }
    for (index, (variant, _)) in rollout.weights.iter().enumerate() {
        if !known(variant) {
            push(
                violations,
                &format!("{prefix}.weights[{index}].variant"),
                format!("{variant:?} is not a variant of the flag"),
            );
        }
    }
    let total: u64 = rollout
        .weights
        .iter()
        .map(|(_, weight)| u64::from(*weight))
        .sum();
    if total == 0 {
        push(
            violations,
            &format!("{prefix}.weights"),
            "the weights must add up to more than 0",
        );
    }
    if !rollout.bucket_by.is_empty() {
        attribute(
            &rollout.bucket_by,
            &format!("{prefix}.bucket_by"),
            violations,
        );
    }
    at_most(
        &rollout.salt,
        MAX_NAME_CHARS,
        &format!("{prefix}.salt"),
        violations,
    );
}

/// Every variant `spec` names: its default, its rules' and its rollout's.
pub fn variants_named(spec: &FlagSpec) -> Vec<&str> {
    let mut named = vec![spec.default_variant.as_str()];
    named.extend(rule_variants(&spec.rules));
    if let Some(rollout) = &spec.default_rollout {
        named.extend(rollout.weights.iter().map(|(variant, _)| variant.as_str()));
    }
    named
}

/// Every variant an override names.
pub fn override_variants(spec: &OverrideSpec) -> Vec<&str> {
    let mut named = rule_variants(&spec.rules);
    named.extend(spec.variant.as_deref());
    named
}

fn rule_variants(rules: &[Rule]) -> Vec<&str> {
    rules
        .iter()
        .flat_map(|rule| match &rule.serve {
            Serve::Variant(variant) => vec![variant.as_str()],
            Serve::Rollout(rollout) => rollout
                .weights
                .iter()
                .map(|(variant, _)| variant.as_str())
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::key::key;

    #[test]
    fn keys_follow_the_proto() {
        for good in ["a", "new-checkout", "billing.v2_beta"] {
            let mut violations = Vec::new();
            key(good, "flag_id", &mut violations);
            assert!(violations.is_empty(), "{good}");
        }
        for bad in ["", "1abc", "Upper", "a/b", &"a".repeat(129)] {
            let mut violations = Vec::new();
            key(bad, "flag_id", &mut violations);
            assert_eq!(violations.len(), 1, "{bad}");
        }
    }

    #[test]
    fn semver_conditions_need_a_version() {
        assert!(value_problem(Operator::SemverLt, &Value::from("1.2.3")).is_none());
        assert!(value_problem(Operator::SemverLt, &Value::from("latest")).is_some());
        assert!(value_problem(Operator::GreaterThan, &Value::from("3")).is_some());
        assert!(value_problem(Operator::Equals, &serde_json::json!([1])).is_some());
    }
}
