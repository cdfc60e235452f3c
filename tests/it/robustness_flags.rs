//! The hostile-input sweep of [`crate::robustness`], for the flag methods
//! of ConfigService: odd names, keys, variants, attributes, page sizes and
//! tokens, in every field a caller controls.

use serde_json::json;
use tenantd::pb;
use tonic::Code;
use tonic::transport::Channel;

use crate::support::flags::{admin, boolean_flag, value};

fn code<T>(outcome: Result<tonic::Response<T>, tonic::Status>) -> Code {
    match outcome {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

/// A flag whose every caller-set string is `text`.
fn odd_flag(text: &str) -> pb::Flag {
    let mut flag = boolean_flag(vec![pb::TargetingRule {
        description: text.to_owned(),
        conditions: vec![pb::TargetingCondition {
            attribute: text.to_owned(),
            op: pb::TargetingOperator::SemverGt.into(),
            values: vec![value(json!(text))],
        }],
        serve: Some(pb::targeting_rule::Serve::Rollout(pb::Rollout {
            weights: vec![pb::VariantWeight {
                variant: text.to_owned(),
                weight: -1,
            }],
            bucket_by: text.to_owned(),
            salt: text.to_owned(),
        })),
    }]);
    flag.name = text.to_owned();
    flag.etag = text.to_owned();
    flag.description = text.to_owned();
    flag.default_variant = text.to_owned();
    flag.variants.insert(text.to_owned(), value(json!(text)));
    flag
}

/// Calls every flag method with `text` and `number`; a flag `sweep` and
/// the tenant `tenant_name` exist.
pub(crate) async fn every_flag_method(
    channel: &Channel,
    text: &str,
    number: i32,
    tenant_name: &str,
) -> Vec<(&'static str, Code)> {
    let mut client = admin(channel);
    let text = text.to_owned();
    let odd_context = pb::EvaluationContext {
        targeting_key: text.clone(),
        attributes: [(text.clone(), value(json!(text)))].into(),
    };
    let odd_override = pb::FlagOverride {
        name: format!("{tenant_name}/flagOverrides/{text}"),
        rules: odd_flag(&text).rules,
        variant: text.clone(),
        description: text.clone(),
        etag: text.clone(),
        ..Default::default()
    };
    vec![
        (
            "CreateFlag",
            code(
                client
                    .create_flag(pb::CreateFlagRequest {
                        flag: Some(odd_flag(&text)),
                        flag_id: text.clone(),
                        request_id: text.clone(),
                    })
                    .await,
            ),
        ),
        (
            "GetFlag",
            code(
                client
                    .get_flag(pb::GetFlagRequest { name: text.clone() })
                    .await,
            ),
        ),
        (
            "ListFlags",
            code(
                client
                    .list_flags(pb::ListFlagsRequest {
                        page_size: number,
                        page_token: text.clone(),
                        filter: text.clone(),
                    })
                    .await,
            ),
        ),
        (
            "UpdateFlag",
            code(
                client
                    .update_flag(pb::UpdateFlagRequest {
                        flag: Some(pb::Flag {
                            name: "flags/sweep".into(),
                            etag: String::new(),
                            ..odd_flag(&text)
                        }),
                        update_mask: crate::support::fixtures::mask(&[&text, "rules", "variants"]),
                    })
                    .await,
            ),
        ),
        (
            "DeleteFlag",
            code(
                client
                    .delete_flag(pb::DeleteFlagRequest {
                        name: text.clone(),
                        etag: text.clone(),
                    })
                    .await,
            ),
        ),
        (
            "SetFlagOverride",
            code(
                client
                    .set_flag_override(pb::SetFlagOverrideRequest {
                        flag_override: Some(odd_override.clone()),
                    })
                    .await,
            ),
        ),
        (
            "SetFlagOverride",
            code(
                client
                    .set_flag_override(pb::SetFlagOverrideRequest {
                        flag_override: Some(pb::FlagOverride {
                            name: format!("{tenant_name}/flagOverrides/sweep"),
                            etag: String::new(),
                            ..odd_override
                        }),
                    })
                    .await,
            ),
        ),
        (
            "ListFlagOverrides",
            code(
                client
                    .list_flag_overrides(pb::ListFlagOverridesRequest {
                        parent: text.clone(),
                        page_size: number,
                        page_token: text.clone(),
                        flag: text.clone(),
                    })
                    .await,
            ),
        ),
        (
            "ListFlagOverrides",
            code(
                client
                    .list_flag_overrides(pb::ListFlagOverridesRequest {
                        parent: "tenants/-".into(),
                        page_size: number,
                        page_token: text.clone(),
                        flag: text.clone(),
                    })
                    .await,
            ),
        ),
        (
            "DeleteFlagOverride",
            code(
                client
                    .delete_flag_override(pb::DeleteFlagOverrideRequest {
                        name: format!("plans/{text}/flagOverrides/{text}"),
                        etag: text.clone(),
                    })
                    .await,
            ),
        ),
        (
            "EvaluateFlag",
            code(
                client
                    .evaluate_flag(pb::EvaluateFlagRequest {
                        parent: tenant_name.to_owned(),
                        flag: text.clone(),
                        context: Some(odd_context.clone()),
                        expected_type: number,
                    })
                    .await,
            ),
        ),
        (
            "EvaluateFlags",
            code(
                client
                    .evaluate_flags(pb::EvaluateFlagsRequest {
                        parent: text.clone(),
                        flags: vec![text.clone()],
                        context: Some(odd_context.clone()),
                    })
                    .await,
            ),
        ),
        (
            "EvaluateFlags",
            code(
                client
                    .evaluate_flags(pb::EvaluateFlagsRequest {
                        parent: tenant_name.to_owned(),
                        flags: vec![text.clone(), "sweep".into()],
                        context: Some(odd_context),
                    })
                    .await,
            ),
        ),
    ]
}
