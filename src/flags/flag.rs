//! Feature flags: the definition of a flag, its per-plan and per-tenant
//! overrides, and their resource names. Validation against the limits of
//! `flag.proto` lives in [`crate::flags::validate`]; evaluation in
//! [`crate::flags::eval`].
//!
//! Invariants: a stored flag's variants all hold values of its
//! `value_type`, and every variant its default, rules, rollouts and
//! overrides name is one of its variants (checked on every write, so
//! evaluation never meets a dangling name).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::common::ids::{TenantId, TenantRef};
use crate::error::{Error, Result};
use crate::flags::semver::Version;
use crate::store::revision::{Stamps, etag_of};

mod names;

pub use names::{parse_flag_name, parse_override_name, parse_override_parent, parse_owner};

/// The type of a flag's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FlagType {
    /// Booleans.
    Boolean,
    /// Strings.
    String,
    /// Numbers.
    Number,
    /// JSON objects.
    Object,
}

impl FlagType {
    /// The stored and filtered spelling, e.g. `BOOLEAN`.
    pub fn as_str(self) -> &'static str {
        match self {
            FlagType::Boolean => "BOOLEAN",
            FlagType::String => "STRING",
            FlagType::Number => "NUMBER",
            FlagType::Object => "OBJECT",
        }
    }

    /// Reads [`Self::as_str`] back.
    pub fn parse(text: &str) -> Option<Self> {
        [
            FlagType::Boolean,
            FlagType::String,
            FlagType::Number,
            FlagType::Object,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == text)
    }

    /// Whether `value` is of this type.
    pub fn holds(self, value: &Value) -> bool {
        match self {
            FlagType::Boolean => value.is_boolean(),
            FlagType::String => value.is_string(),
            FlagType::Number => value.is_number(),
            FlagType::Object => value.is_object(),
        }
    }
}

/// How a condition compares an attribute with its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Operator {
    /// Equal to the single value.
    Equals,
    /// Present and not equal to the single value.
    NotEquals,
    /// Equal to one of the values.
    In,
    /// Present and equal to none of the values.
    NotIn,
    /// A string starting with one of the values.
    StartsWith,
    /// A string ending with one of the values.
    EndsWith,
    /// A string containing one of the values.
    Contains,
    /// A number greater than the single value.
    GreaterThan,
    /// A number greater than or equal to the single value.
    GreaterThanOrEqual,
    /// A number less than the single value.
    LessThan,
    /// A number less than or equal to the single value.
    LessThanOrEqual,
    /// A semantic version equal to the single value.
    SemverEq,
    /// A semantic version lower than the single value.
    SemverLt,
    /// A semantic version greater than the single value.
    SemverGt,
    /// Present, whatever its value.
    Exists,
}

/// How many values an operator takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    /// Exactly one.
    One,
    /// One or more.
    Many,
    /// None.
    Zero,
}

impl Operator {
    /// How many values it compares with.
    pub fn arity(self) -> Arity {
        match self {
            Operator::In
            | Operator::NotIn
            | Operator::StartsWith
            | Operator::EndsWith
            | Operator::Contains => Arity::Many,
            Operator::Exists => Arity::Zero,
            _ => Arity::One,
        }
    }
}

/// A condition on one attribute of the evaluation context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    /// The attribute compared.
    pub attribute: String,
    /// The comparison.
    pub op: Operator,
    /// Strings, numbers or booleans.
    pub values: Vec<Value>,
    /// The first value as a version, parsed at its first semantic-version
    /// comparison and kept with the cached definition. Derived from
    /// `values`: a condition given other values needs a fresh one.
    #[serde(skip)]
    parsed_version: ParsedVersion,
}

impl Condition {
    /// A condition on `attribute`.
    pub fn new(attribute: String, op: Operator, values: Vec<Value>) -> Self {
        Self {
            attribute,
            op,
            values,
            parsed_version: ParsedVersion::default(),
        }
    }

    /// The first value as a semantic version, if it is one.
    pub fn version(&self) -> Option<&Version> {
        self.parsed_version
            .0
            .get_or_init(|| {
                self.values
                    .first()
                    .and_then(Value::as_str)
                    .and_then(Version::parse)
            })
            .as_ref()
    }
}

/// A condition's value parsed as a version, once. It is derived from the
/// values, so it takes no part in comparing conditions.
#[derive(Debug, Clone, Default)]
struct ParsedVersion(std::sync::OnceLock<Option<Version>>);

impl PartialEq for ParsedVersion {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// A deterministic split of contexts between variants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollout {
    /// Variants and their relative weights, in order.
    pub weights: Vec<(String, u32)>,
    /// The attribute hashed; the targeting key when empty.
    pub bucket_by: String,
    /// Mixed into the hash; the flag key when empty.
    pub salt: String,
}

/// What a matching rule serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Serve {
    /// This variant.
    Variant(String),
    /// A variant picked by a split.
    Rollout(Rollout),
}

/// A targeting rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// What the rule is for.
    pub description: String,
    /// All must hold; none matches every context.
    pub conditions: Vec<Condition>,
    /// What a matching context gets.
    pub serve: Serve,
}

/// The mutable part of a flag: everything but its key, type and times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlagSpec {
    /// What the flag controls.
    pub description: String,
    /// Values by variant name.
    pub variants: BTreeMap<String, Value>,
    /// Served when disabled and when nothing else decides.
    pub default_variant: String,
    /// Whether the flag is evaluated (stored in its own column).
    #[serde(skip)]
    pub enabled: bool,
    /// Tried in order.
    pub rules: Vec<Rule>,
    /// Splits the contexts no rule matched.
    pub default_rollout: Option<Rollout>,
}

/// A stored flag.
#[derive(Debug, Clone, PartialEq)]
pub struct Flag {
    /// The key, `flags/{key}`.
    pub key: String,
    /// The type of its values; immutable.
    pub value_type: FlagType,
    /// The definition.
    pub spec: FlagSpec,
    /// Its revision and times.
    pub stamps: Stamps,
}

/// The etag of resource `name` at the revision `stamps` give: the creation
/// time tells a recreated resource from its predecessor.
fn revision_etag(name: &str, stamps: &Stamps) -> String {
    let created = stamps.create_time.timestamp_micros().to_be_bytes();
    etag_of(&[name.as_bytes(), &stamps.revision.to_be_bytes(), &created])
}

impl Flag {
    /// `flags/{key}`.
    pub fn resource_name(&self) -> String {
        format!("flags/{}", self.key)
    }

    /// The opaque etag of this revision.
    pub fn etag(&self) -> String {
        revision_etag(&self.resource_name(), &self.stamps)
    }
}

/// Whose override it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OverrideOwner {
    /// A plan's, by plan id.
    Plan(String),
    /// A tenant's.
    Tenant(TenantId),
}

impl OverrideOwner {
    /// `plans/{plan}` or `tenants/{id}`.
    pub fn resource_name(&self) -> String {
        match self {
            OverrideOwner::Plan(plan) => format!("plans/{plan}"),
            OverrideOwner::Tenant(id) => id.resource_name(),
        }
    }
}

/// The content of an override.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct OverrideSpec {
    /// Replaces the flag's `enabled` in scope.
    pub enabled: Option<bool>,
    /// Tried before the less specific layers.
    pub rules: Vec<Rule>,
    /// Served when no rule of this override matched.
    pub variant: Option<String>,
    /// Why the override exists.
    pub description: String,
}

impl OverrideSpec {
    /// Whether it gives evaluation anything to decide (rules or a
    /// variant), which makes a flag's answer no longer STATIC.
    pub fn targets(&self) -> bool {
        !self.rules.is_empty() || self.variant.is_some()
    }
}

/// A stored override.
#[derive(Debug, Clone, PartialEq)]
pub struct FlagOverride {
    /// Whose it is.
    pub owner: OverrideOwner,
    /// The key of the flag overridden.
    pub flag: String,
    /// The content.
    pub spec: OverrideSpec,
    /// Its revision and times.
    pub stamps: Stamps,
}

impl FlagOverride {
    /// `{owner}/flagOverrides/{flag}`.
    pub fn resource_name(&self) -> String {
        format!("{}/flagOverrides/{}", self.owner.resource_name(), self.flag)
    }

    /// The opaque etag of this revision.
    pub fn etag(&self) -> String {
        revision_etag(&self.resource_name(), &self.stamps)
    }

    /// Refuses with ABORTED when `expected` is given and stale.
    pub fn check_etag(&self, expected: Option<&str>) -> Result<()> {
        Error::check_etag(expected, &self.etag(), || self.resource_name())
    }

    /// An audit snapshot of the override.
    pub fn snapshot(&self) -> Value {
        serde_json::json!({
            "name": self.resource_name(),
            "enabled": self.spec.enabled,
            "rules": self.spec.rules,
            "variant": self.spec.variant,
            "description": self.spec.description,
            "revision": self.stamps.revision,
        })
    }
}

/// An owner as a request names it: a plan, or a tenant still to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerRef {
    /// `plans/{plan}`.
    Plan(String),
    /// `tenants/{tenant}`.
    Tenant(TenantRef),
}

/// The parent of an override listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OverrideParent {
    /// `plans/-`: every plan's.
    AllPlans,
    /// `tenants/-`: every tenant's.
    AllTenants,
    /// One plan's or one tenant's.
    One(OwnerRef),
}
