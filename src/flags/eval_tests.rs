//! Unit tests of flag evaluation: every step of the evaluation order, the
//! operators, and resolved definitions answering as the layered evaluation
//! does. The bucketing's own tests are beside it, in
//! [`crate::flags::bucket`].

use serde_json::json;

use super::*;
use crate::flags::flag::{FlagType, Rollout};

fn flag(spec: serde_json::Value) -> Flag {
    let mut spec: FlagSpec = serde_json::from_value(spec).expect("a flag spec");
    spec.enabled = true;
    Flag {
        key: "checkout".into(),
        value_type: FlagType::Boolean,
        spec,
        stamps: crate::store::revision::Stamps::first(chrono::Utc::now()),
    }
}

fn simple() -> serde_json::Value {
    json!({
        "description": "",
        "variants": {"on": true, "off": false},
        "default_variant": "off",
        "rules": [],
        "default_rollout": null,
    })
}

fn context(key: &str, attributes: serde_json::Value) -> EvalContext {
    EvalContext {
        targeting_key: (!key.is_empty()).then(|| Value::from(key)),
        attributes: serde_json::from_value(attributes).expect("attributes"),
    }
}

fn facts() -> TenantFacts {
    TenantFacts {
        attributes: [
            ("tenant.plan".to_owned(), Value::from("pro")),
            ("tenant.labels.region".to_owned(), Value::from("eu")),
        ]
        .into_iter()
        .collect(),
    }
}

fn run<'a>(flag: &'a Flag, layers: Layers<'_>, context: &EvalContext) -> Outcome<'a> {
    evaluate(
        flag,
        layers,
        Subject {
            context,
            tenant: &facts(),
        },
    )
}

fn reason<'a>(outcome: &Outcome<'a>) -> (Option<&'a str>, Option<Reason>, Option<ErrorCode>) {
    match outcome {
        Outcome::Served {
            variant, reason, ..
        } => (Some(*variant), Some(*reason), None),
        Outcome::Failed { code, .. } => (None, None, Some(*code)),
    }
}

fn rule(conditions: serde_json::Value, variant: &str) -> Rule {
    serde_json::from_value(json!({
        "description": "",
        "conditions": conditions,
        "serve": {"variant": variant},
    }))
    .expect("a rule")
}

#[test]
fn the_evaluation_order_of_the_proto() {
    let plain = flag(simple());
    let nobody = context("", json!({}));
    assert_eq!(
        reason(&run(&plain, Layers::default(), &nobody)).1,
        Some(Reason::Static)
    );

    let mut disabled = plain.clone();
    disabled.spec.enabled = false;
    assert_eq!(
        reason(&run(&disabled, Layers::default(), &nobody)).1,
        Some(Reason::Disabled)
    );
    let enable = OverrideSpec {
        enabled: Some(true),
        ..OverrideSpec::default()
    };
    let tenant_enables = Layers {
        tenant: Some(&enable),
        plan: None,
    };
    assert_eq!(
        reason(&run(&disabled, tenant_enables, &nobody)).1,
        Some(Reason::Static)
    );

    let mut targeted = plain.clone();
    targeted.spec.rules = vec![rule(
        json!([{"attribute": "tenant.plan", "op": "EQUALS", "values": ["pro"]}]),
        "on",
    )];
    assert_eq!(
        reason(&run(&targeted, Layers::default(), &nobody)),
        (Some("on"), Some(Reason::TargetingMatch), None)
    );
    targeted.spec.rules[0].conditions[0].values = vec![Value::from("free")];
    assert_eq!(
        reason(&run(&targeted, Layers::default(), &nobody)),
        (Some("off"), Some(Reason::Default), None)
    );

    let pinned = OverrideSpec {
        variant: Some("on".into()),
        ..OverrideSpec::default()
    };
    let plan_pins = Layers {
        tenant: None,
        plan: Some(&pinned),
    };
    assert_eq!(
        reason(&run(&plain, plan_pins, &nobody)),
        (Some("on"), Some(Reason::TargetingMatch), None)
    );
}

#[test]
fn rollouts_split_and_need_their_key() {
    let mut split_flag = flag(simple());
    split_flag.spec.default_rollout = Some(Rollout {
        weights: vec![("on".into(), 50), ("off".into(), 50)],
        bucket_by: String::new(),
        salt: String::new(),
    });
    let outcome = run(
        &split_flag,
        Layers::default(),
        &context("user-1", json!({})),
    );
    assert_eq!(reason(&outcome).1, Some(Reason::Split));
    assert_eq!(
        reason(&run(
            &split_flag,
            Layers::default(),
            &context("", json!({}))
        ))
        .2,
        Some(ErrorCode::TargetingKeyMissing)
    );
    if let Some(rollout) = split_flag.spec.default_rollout.as_mut() {
        rollout.bucket_by = "org".into();
    }
    assert_eq!(
        reason(&run(
            &split_flag,
            Layers::default(),
            &context("user-1", json!({}))
        )),
        (Some("off"), Some(Reason::Default), None)
    );
}

#[test]
fn operators_compare_as_documented() {
    let subject_context = context(
        "user-7",
        json!({"email": "ann@example.com", "age": 42, "app_version": "v2.3.0-beta.1", "beta": true}),
    );
    // Attribute, operator, values, whether it holds.
    let cases = [
        ("email", "EQUALS", json!(["ann@example.com"]), true),
        ("age", "EQUALS", json!([42.0]), true),
        ("beta", "EQUALS", json!([true]), true),
        ("age", "EQUALS", json!(["42"]), false),
        ("email", "NOT_EQUALS", json!(["bob"]), true),
        ("missing", "NOT_EQUALS", json!(["bob"]), false),
        ("targetingKey", "IN", json!(["user-1", "user-7"]), true),
        ("age", "NOT_IN", json!([1, 2]), true),
        ("email", "STARTS_WITH", json!(["bob", "ann@"]), true),
        ("email", "ENDS_WITH", json!(["@example.com"]), true),
        ("email", "CONTAINS", json!(["@exa"]), true),
        ("age", "STARTS_WITH", json!(["4"]), false),
        ("age", "GREATER_THAN", json!([41]), true),
        ("age", "GREATER_THAN_OR_EQUAL", json!([42]), true),
        ("age", "LESS_THAN", json!([42]), false),
        ("age", "LESS_THAN_OR_EQUAL", json!([42]), true),
        ("app_version", "SEMVER_LT", json!(["2.3.0"]), true),
        ("app_version", "SEMVER_GT", json!(["2.3.0-alpha"]), true),
        ("app_version", "SEMVER_EQ", json!(["2.3.0-beta.1+b9"]), true),
        ("email", "SEMVER_EQ", json!(["1.0.0"]), false),
        ("tenant.labels.region", "EXISTS", json!([]), true),
        ("tenant.labels.zone", "EXISTS", json!([]), false),
    ];
    for (attribute, op, values, expected) in cases {
        let condition = json!({"attribute": attribute, "op": op, "values": values});
        let found: Condition = serde_json::from_value(condition.clone()).expect("a condition");
        let tenant = facts();
        let subject = Subject {
            context: &subject_context,
            tenant: &tenant,
        };
        assert_eq!(holds(&found, subject), expected, "{condition}");
    }
}

#[test]
fn reserved_and_nested_attributes_are_invalid() {
    assert!(context("", json!({"tenant.plan": "x"})).problem().is_some());
    assert!(
        context("", json!({"targetingKey": "x"}))
            .problem()
            .is_some()
    );
    assert!(context("", json!({"list": [1]})).problem().is_some());
    assert!(
        context("", json!({"ok": 1, "fine": "yes"}))
            .problem()
            .is_none()
    );
}

#[test]
fn resolved_definitions_answer_as_the_layered_evaluation() {
    let mut base = flag(simple());
    base.spec.variants.insert("mid".into(), json!(true));
    base.spec.rules = vec![rule(
        json!([{"attribute": "country", "op": "IN", "values": ["FR", "DE"]}]),
        "mid",
    )];
    let tenant_layer = OverrideSpec {
        enabled: None,
        rules: vec![rule(
            json!([{"attribute": "email", "op": "ENDS_WITH", "values": ["@vip.example"]}]),
            "on",
        )],
        variant: None,
        description: String::new(),
    };
    let plan_layer = OverrideSpec {
        enabled: Some(true),
        rules: vec![serde_json::from_value(json!({
            "description": "",
            "conditions": [{"attribute": "app_version", "op": "SEMVER_GT", "values": ["3.0.0"]}],
            "serve": {"rollout": {"weights": [["on", 30], ["off", 70]], "bucket_by": "", "salt": ""}},
        }))
        .expect("a rule")],
        variant: Some("off".into()),
        description: String::new(),
    };
    let mut with_rollout = base.clone();
    with_rollout.spec.default_rollout = Some(Rollout {
        weights: vec![("on".into(), 1), ("off".into(), 3)],
        bucket_by: "org".into(),
        salt: "x".into(),
    });
    let mut disabled = base.clone();
    disabled.spec.enabled = false;
    let flags = [base, with_rollout, disabled];
    let layer_sets = [
        Layers::default(),
        Layers {
            tenant: Some(&tenant_layer),
            plan: None,
        },
        Layers {
            tenant: None,
            plan: Some(&plan_layer),
        },
        Layers {
            tenant: Some(&tenant_layer),
            plan: Some(&plan_layer),
        },
    ];
    let contexts = [
        context("", json!({})),
        context("u1", json!({"country": "FR"})),
        context("u2", json!({"email": "a@vip.example", "country": "DE"})),
        context("u3", json!({"app_version": "3.1.0", "org": "acme"})),
        context("", json!({"app_version": "3.1.0"})),
        context("u4", json!({"org": "globex"})),
    ];
    let tenant = facts();
    for flag in &flags {
        for layers in layer_sets {
            let resolved = resolve(flag, layers);
            for context in &contexts {
                let subject = Subject {
                    context,
                    tenant: &tenant,
                };
                assert_eq!(
                    evaluate(&resolved, Layers::default(), subject),
                    evaluate(flag, layers, subject),
                    "{layers:?} {context:?}"
                );
            }
        }
    }
}
