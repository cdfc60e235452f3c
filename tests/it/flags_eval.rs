//! Flag evaluation over real gRPC: every targeting operator, every
//! OpenFeature reason and error code, rollout buckets that stay put across
//! calls, and an N % rollout that serves about N % of 10,000 keys.

use serde_json::{Value, json};
use tenantd::pb;

use crate::support::fixtures::create;
use crate::support::flags::{
    Configs, admin, boolean_flag, context, create_flag, evaluate, outcome, rollout, rule,
};
use crate::support::{Backend, TestServer};

use pb::EvaluationErrorCode as E;
use pb::EvaluationReason as R;
use pb::TargetingOperator as Op;

async fn evaluate_all(
    client: &mut Configs,
    tenant: &str,
    flags: &[String],
    context: pb::EvaluationContext,
) -> Vec<pb::FlagEvaluation> {
    client
        .evaluate_flags(pb::EvaluateFlagsRequest {
            parent: tenant.to_owned(),
            flags: flags.to_vec(),
            context: Some(context),
        })
        .await
        .expect("evaluate flags")
        .into_inner()
        .evaluations
}

/// One flag per operator, each with one rule serving `on`; a context that
/// meets every condition and one that meets none.
async fn every_operator_targets_its_attribute(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = admin(&server.channel);
    let tenant = create(&mut server.tenants(), "operators").await;
    let cases: Vec<(&str, Op, Vec<Value>)> = vec![
        ("country", Op::Equals, vec![json!("FR")]),
        ("country", Op::NotEquals, vec![json!("DE")]),
        ("country", Op::In, vec![json!("BE"), json!("FR")]),
        ("country", Op::NotIn, vec![json!("DE"), json!("US")]),
        ("email", Op::StartsWith, vec![json!("ann@")]),
        ("email", Op::EndsWith, vec![json!("@example.com")]),
        ("email", Op::Contains, vec![json!("@exa")]),
        ("seats", Op::GreaterThan, vec![json!(10)]),
        ("seats", Op::GreaterThanOrEqual, vec![json!(12)]),
        ("seats", Op::LessThan, vec![json!(13)]),
        ("seats", Op::LessThanOrEqual, vec![json!(12)]),
        ("app_version", Op::SemverEq, vec![json!("2.4.0")]),
        ("app_version", Op::SemverLt, vec![json!("v2.10.0")]),
        ("app_version", Op::SemverGt, vec![json!("2.4.0-rc.1")]),
        ("tenant.labels.tier", Op::Exists, vec![]),
    ];
    let mut keys = Vec::new();
    for (index, (attribute, op, values)) in cases.iter().enumerate() {
        let key = format!("op-{index}");
        create_flag(
            &mut client,
            &key,
            boolean_flag(vec![rule(attribute, *op, values, "on")]),
        )
        .await;
        keys.push(key);
    }
    server
        .tenants()
        .update_tenant(pb::UpdateTenantRequest {
            tenant: Some(pb::Tenant {
                name: tenant.name.clone(),
                labels: [("tier".to_owned(), "gold".to_owned())].into(),
                ..Default::default()
            }),
            update_mask: crate::support::fixtures::mask(&["labels"]),
        })
        .await
        .expect("label the tenant");
    let meets = context(
        "user-1",
        json!({"country": "FR", "email": "ann@example.com", "seats": 12, "app_version": "2.4.0"}),
    );
    for answer in evaluate_all(&mut client, &tenant.name, &keys, meets).await {
        assert_eq!(
            outcome(&answer),
            ("on".into(), R::TargetingMatch),
            "{}",
            answer.flag
        );
    }
    let misses = context(
        "user-1",
        json!({"country": "DE", "email": "bob@test.org", "seats": "many", "app_version": "nightly"}),
    );
    let misses_answers = evaluate_all(&mut client, &tenant.name, &keys, misses).await;
    // Numbers and versions of another type do not compare; the tenant's
    // label exists whatever the context says.
    let (exists, others) = misses_answers.split_last().expect("answers");
    assert_eq!(outcome(exists), ("on".into(), R::TargetingMatch));
    for answer in others {
        assert_eq!(
            outcome(answer),
            ("off".into(), R::Default),
            "{}",
            answer.flag
        );
    }
    server.stop().await;
}

async fn reasons_and_error_codes_follow_openfeature(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = admin(&server.channel);
    let tenant = create(&mut server.tenants(), "reasons").await;
    create_flag(&mut client, "static", boolean_flag(Vec::new())).await;
    let targeted = vec![rule("tenant.slug", Op::Equals, &[json!("reasons")], "on")];
    create_flag(&mut client, "targeted", boolean_flag(targeted)).await;
    let untargeted = vec![rule("tenant.slug", Op::Equals, &[json!("nobody")], "on")];
    create_flag(&mut client, "untargeted", boolean_flag(untargeted)).await;
    let mut disabled = boolean_flag(Vec::new());
    disabled.enabled = false;
    create_flag(&mut client, "disabled", disabled).await;
    let mut split = boolean_flag(Vec::new());
    split.default_rollout = Some(rollout(&[("on", 1), ("off", 1)], "", ""));
    create_flag(&mut client, "split", split).await;

    let user = || context("user-42", json!({"plan_seats": 3}));
    let cases = [
        ("static", "off", R::Static),
        ("targeted", "on", R::TargetingMatch),
        ("untargeted", "off", R::Default),
        ("disabled", "off", R::Disabled),
    ];
    for (flag, variant, reason) in cases {
        let answer = evaluate(&mut client, &tenant.name, flag, user()).await;
        assert_eq!(outcome(&answer), (variant.into(), reason), "{flag}");
        assert!(answer.value.is_some() && answer.error_code() == E::Unspecified);
    }
    let answer = evaluate(&mut client, &tenant.name, "split", user()).await;
    assert_eq!(answer.reason(), R::Split);

    let failed = |answer: &pb::FlagEvaluation| {
        assert_eq!(answer.reason(), R::Error, "{answer:?}");
        assert!(answer.value.is_none() && answer.variant.is_empty());
        assert!(!answer.error_message.is_empty());
        answer.error_code()
    };
    let unknown = evaluate(&mut client, &tenant.name, "missing", user()).await;
    assert_eq!(failed(&unknown), E::FlagNotFound);
    let keyless = evaluate(&mut client, &tenant.name, "split", context("", json!({}))).await;
    assert_eq!(failed(&keyless), E::TargetingKeyMissing);
    for bad in [
        json!({"tenant.plan": "enterprise"}),
        json!({"roles": ["admin"]}),
    ] {
        let invalid = evaluate(&mut client, &tenant.name, "static", context("u", bad)).await;
        assert_eq!(failed(&invalid), E::InvalidContext);
    }
    let mismatch = client
        .evaluate_flag(pb::EvaluateFlagRequest {
            parent: tenant.name.clone(),
            flag: "static".into(),
            context: Some(user()),
            expected_type: pb::FlagType::String.into(),
        })
        .await
        .expect("evaluate")
        .into_inner()
        .evaluation
        .expect("an evaluation");
    assert_eq!(failed(&mismatch), E::TypeMismatch);

    let everything = evaluate_all(&mut client, &tenant.name, &[], user()).await;
    let keys: Vec<&str> = everything
        .iter()
        .map(|answer| answer.flag.as_str())
        .collect();
    assert_eq!(
        keys,
        ["disabled", "split", "static", "targeted", "untargeted"]
    );
    server.stop().await;
}

/// The users whose attribute `u{index}` the rollout flags hash.
const USERS_PER_CALL: usize = 100;

/// 10,000 keys through an N % rollout land ~N % in it, and each key's
/// variant is the same on every call. One EvaluateFlags call hashes 100
/// keys: 100 flags with the same salt, each bucketing by its own attribute,
/// so the hash input `{salt}/{key}` is exactly the targeting-key rollout's.
async fn a_percentage_rollout_serves_its_share(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = admin(&server.channel);
    let tenant = create(&mut server.tenants(), "rollout").await;
    let percent = 30;
    let weights = [("on", percent), ("off", 100 - percent)];
    let mut split = boolean_flag(Vec::new());
    split.default_rollout = Some(rollout(&weights, "", "share"));
    create_flag(&mut client, "by-key", split).await;
    let mut keys = Vec::new();
    for index in 0..USERS_PER_CALL {
        let mut flag = boolean_flag(Vec::new());
        flag.default_rollout = Some(rollout(&weights, &format!("u{index}"), "share"));
        let key = format!("by-attribute-{index:03}");
        create_flag(&mut client, &key, flag).await;
        keys.push(key);
    }
    let mut served_on = 0;
    let mut first_batch = Vec::new();
    for batch in 0..(10_000 / USERS_PER_CALL) {
        let users: serde_json::Map<String, Value> = (0..USERS_PER_CALL)
            .map(|index| (format!("u{index}"), json!(format!("user-{batch}-{index}"))))
            .collect();
        let answers = evaluate_all(
            &mut client,
            &tenant.name,
            &keys,
            context("", Value::Object(users)),
        )
        .await;
        served_on += answers
            .iter()
            .filter(|answer| answer.variant == "on")
            .count();
        if batch == 0 {
            first_batch = answers;
        }
    }
    let share = served_on as f64 / 10_000.0 * 100.0;
    assert!(
        (share - f64::from(percent)).abs() <= 2.0,
        "{share} % served on"
    );

    // The same users by targeting key get the same variants, on every call.
    for (index, by_attribute) in first_batch.iter().enumerate().take(20) {
        for _ in 0..2 {
            let user = context(&format!("user-0-{index}"), json!({}));
            let by_key = evaluate(&mut client, &tenant.name, "by-key", user).await;
            assert_eq!(outcome(&by_key), (by_attribute.variant.clone(), R::Split));
        }
    }
    server.stop().await;
}

crate::backend_tests!(
    every_operator_targets_its_attribute,
    reasons_and_error_codes_follow_openfeature,
    a_percentage_rollout_serves_its_share,
);
