//! Unit tests of flag evaluation: the published MurmurHash3 vectors, every
//! step of the evaluation order, and resolved definitions answering as the
//! layered evaluation does.

use serde_json::json;

use super::*;
use crate::flags::flag::{FlagType, Rollout};

#[test]
fn murmur3_matches_the_published_vectors() {
    // The verification vectors of the reference implementation, as
    // collected with SMHasher's and widely republished.
    let vectors: &[(&[u8], u32, u32)] = &[
        (b"", 0, 0),
        (b"", 1, 0x514E_28B7),
        (b"", 0xffff_ffff, 0x81F1_6F39),
        (b"\xff\xff\xff\xff", 0, 0x7629_3B50),
        (b"\x21\x43\x65\x87", 0, 0xF55B_516B),
        (b"\x21\x43\x65\x87", 0x5082_EDEE, 0x2362_F9DE),
        (b"\x21\x43\x65", 0, 0x7E4A_8634),
        (b"\x21\x43", 0, 0xA0F7_B07A),
        (b"\x21", 0, 0x7266_1CF4),
        (b"\0\0\0\0", 0, 0x2362_F9DE),
        (b"\0\0\0", 0, 0x85F0_B427),
        (b"\0\0", 0, 0x30F4_C306),
        (b"\0", 0, 0x514E_28B7),
        (b"aaaa", 0x9747_b28c, 0x5A97_808A),
        (b"abc", 0, 0xB3DD_93FA),
        (b"Hello, world!", 0x9747_b28c, 0x2488_4CBA),
        (
            b"The quick brown fox jumps over the lazy dog",
            0x9747_b28c,
            0x2FA8_26CD,
        ),
    ];
    for (input, seed, expected) in vectors {
        assert_eq!(
            murmur3_32(input, *seed),
            *expected,
            "{input:?} seed {seed:#x}"
        );
    }
}

fn flag(spec: serde_json::Value) -> Flag {
    let mut spec: FlagSpec = serde_json::from_value(spec).expect("a flag spec");
    spec.enabled = true;
    Flag {
        key: "checkout".into(),
        value_type: FlagType::Boolean,
        spec,
        revision: 1,
        create_time: chrono::Utc::now(),
        update_time: chrono::Utc::now(),
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
fn the_bucket_is_the_documented_hash() {
    let rollout = Rollout {
        weights: vec![("a".into(), 1), ("b".into(), 1)],
        bucket_by: String::new(),
        salt: "s".into(),
    };
    for user in ["u1", "u2", "u3", "u4"] {
        let hash = u64::from(murmur3_32(format!("s/{user}").as_bytes(), 0));
        let expected = if (hash * 2) >> 32 < 1 { "a" } else { "b" };
        assert_eq!(
            split(&rollout, "ignored", &Value::from(user)),
            Some(expected)
        );
    }
}

#[test]
fn operators_compare_as_documented() {
    let subject_context = context(
        "user-7",
        json!({"email": "ann@example.com", "age": 42, "app_version": "v2.3.0-beta.1", "beta": true}),
    );
    let cases = [
        (
            json!({"attribute": "email", "op": "EQUALS", "values": ["ann@example.com"]}),
            true,
        ),
        (
            json!({"attribute": "age", "op": "EQUALS", "values": [42.0]}),
            true,
        ),
        (
            json!({"attribute": "beta", "op": "EQUALS", "values": [true]}),
            true,
        ),
        (
            json!({"attribute": "age", "op": "EQUALS", "values": ["42"]}),
            false,
        ),
        (
            json!({"attribute": "email", "op": "NOT_EQUALS", "values": ["bob"]}),
            true,
        ),
        (
            json!({"attribute": "missing", "op": "NOT_EQUALS", "values": ["bob"]}),
            false,
        ),
        (
            json!({"attribute": "targetingKey", "op": "IN", "values": ["user-1", "user-7"]}),
            true,
        ),
        (
            json!({"attribute": "age", "op": "NOT_IN", "values": [1, 2]}),
            true,
        ),
        (
            json!({"attribute": "email", "op": "STARTS_WITH", "values": ["bob", "ann@"]}),
            true,
        ),
        (
            json!({"attribute": "email", "op": "ENDS_WITH", "values": ["@example.com"]}),
            true,
        ),
        (
            json!({"attribute": "email", "op": "CONTAINS", "values": ["@exa"]}),
            true,
        ),
        (
            json!({"attribute": "age", "op": "STARTS_WITH", "values": ["4"]}),
            false,
        ),
        (
            json!({"attribute": "age", "op": "GREATER_THAN", "values": [41]}),
            true,
        ),
        (
            json!({"attribute": "age", "op": "GREATER_THAN_OR_EQUAL", "values": [42]}),
            true,
        ),
        (
            json!({"attribute": "age", "op": "LESS_THAN", "values": [42]}),
            false,
        ),
        (
            json!({"attribute": "age", "op": "LESS_THAN_OR_EQUAL", "values": [42]}),
            true,
        ),
        (
            json!({"attribute": "app_version", "op": "SEMVER_LT", "values": ["2.3.0"]}),
            true,
        ),
        (
            json!({"attribute": "app_version", "op": "SEMVER_GT", "values": ["2.3.0-alpha"]}),
            true,
        ),
        (
            json!({"attribute": "app_version", "op": "SEMVER_EQ", "values": ["2.3.0-beta.1+b9"]}),
            true,
        ),
        (
            json!({"attribute": "email", "op": "SEMVER_EQ", "values": ["1.0.0"]}),
            false,
        ),
        (
            json!({"attribute": "tenant.labels.region", "op": "EXISTS", "values": []}),
            true,
        ),
        (
            json!({"attribute": "tenant.labels.zone", "op": "EXISTS", "values": []}),
            false,
        ),
    ];
    for (condition, expected) in cases {
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
