//! Feature flags over real gRPC: flags are created (idempotently with a
//! request id), read, listed with filters and pages, updated and deleted
//! under etags; overrides per plan and per tenant change what a tenant is
//! served, in the documented order, and are guarded the same way.

mod overrides;

use serde_json::json;
use tenantd::pb;
use tonic::Code;

use crate::support::fixtures::mask;
use crate::support::flags::{Configs, admin, boolean_flag, create_flag};
use crate::support::status::{assert_error, invalid_fields};
use crate::support::{Backend, TestServer};

async fn get(client: &mut Configs, key: &str) -> Result<pb::Flag, tonic::Status> {
    client
        .get_flag(pb::GetFlagRequest {
            name: format!("flags/{key}"),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn update(
    client: &mut Configs,
    flag: pb::Flag,
    paths: &[&str],
) -> Result<pb::Flag, tonic::Status> {
    client
        .update_flag(pb::UpdateFlagRequest {
            flag: Some(flag),
            update_mask: mask(paths),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn set_override(
    client: &mut Configs,
    name: &str,
    given: pb::FlagOverride,
) -> Result<pb::FlagOverride, tonic::Status> {
    client
        .set_flag_override(pb::SetFlagOverrideRequest {
            flag_override: Some(pb::FlagOverride {
                name: name.to_owned(),
                ..given
            }),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn flags_are_created_read_listed_updated_and_deleted(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = admin(&server.channel);
    let created = create_flag(&mut client, "new-checkout", boolean_flag(Vec::new())).await;
    assert_eq!(created.name, "flags/new-checkout");
    assert_eq!(
        get(&mut client, "new-checkout").await.expect("get"),
        created
    );

    let again = client
        .create_flag(pb::CreateFlagRequest {
            flag: Some(boolean_flag(Vec::new())),
            flag_id: "new-checkout".into(),
            request_id: String::new(),
        })
        .await
        .expect_err("a second flag with the key");
    assert_error(&again, Code::AlreadyExists, "FLAG_ALREADY_EXISTS");

    let request_id = uuid::Uuid::new_v4().to_string();
    let retried = pb::CreateFlagRequest {
        flag: Some(pb::Flag {
            value_type: pb::FlagType::String.into(),
            variants: [("a".to_owned(), crate::support::flags::value(json!("x")))].into(),
            default_variant: "a".into(),
            ..Default::default()
        }),
        flag_id: "banner".into(),
        request_id,
    };
    let first = client.create_flag(retried.clone()).await.expect("create");
    let second = client.create_flag(retried).await.expect("retry");
    assert_eq!(first.into_inner(), second.into_inner());

    let listed = client
        .list_flags(pb::ListFlagsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.flags[0].key, "banner");
    let rest = client
        .list_flags(pb::ListFlagsRequest {
            page_size: 1,
            page_token: listed.next_page_token,
            ..Default::default()
        })
        .await
        .expect("next page")
        .into_inner();
    assert_eq!(rest.flags[0].key, "new-checkout");
    let booleans = client
        .list_flags(pb::ListFlagsRequest {
            filter: "value_type = BOOLEAN AND enabled = true".into(),
            ..Default::default()
        })
        .await
        .expect("filtered")
        .into_inner();
    let keys: Vec<&str> = booleans
        .flags
        .iter()
        .map(|flag| flag.key.as_str())
        .collect();
    assert_eq!(keys, ["new-checkout"]);

    let stale = update(
        &mut client,
        pb::Flag {
            name: created.name.clone(),
            etag: "0000".into(),
            description: "stale".into(),
            ..Default::default()
        },
        &["description"],
    )
    .await
    .expect_err("a stale etag");
    assert_error(&stale, Code::Aborted, "ETAG_MISMATCH");
    let updated = update(
        &mut client,
        pb::Flag {
            name: created.name.clone(),
            etag: created.etag.clone(),
            description: "checkout v2".into(),
            ..Default::default()
        },
        &["description"],
    )
    .await
    .expect("update with the current etag");
    assert_eq!(updated.description, "checkout v2");
    assert_ne!(updated.etag, created.etag);
    let type_change = update(&mut client, created.clone(), &["value_type"])
        .await
        .expect_err("the type is immutable");
    assert_eq!(invalid_fields(&type_change), ["update_mask"]);
    let dangling = update(
        &mut client,
        pb::Flag {
            name: created.name.clone(),
            variants: [("on".to_owned(), crate::support::flags::value(json!(true)))].into(),
            ..Default::default()
        },
        &["variants"],
    )
    .await
    .expect_err("the default variant would be gone");
    assert_eq!(invalid_fields(&dangling), ["flag.default_variant"]);

    let stale_delete = client
        .delete_flag(pb::DeleteFlagRequest {
            name: created.name.clone(),
            etag: created.etag.clone(),
        })
        .await
        .expect_err("deleting with a stale etag");
    assert_error(&stale_delete, Code::Aborted, "ETAG_MISMATCH");
    client
        .delete_flag(pb::DeleteFlagRequest {
            name: created.name.clone(),
            etag: updated.etag,
        })
        .await
        .expect("delete");
    let gone = get(&mut client, "new-checkout").await.expect_err("deleted");
    assert_error(&gone, Code::NotFound, "FLAG_NOT_FOUND");
    server.stop().await;
}

async fn malformed_flags_are_refused_by_field(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = admin(&server.channel);
    let mut flag = boolean_flag(vec![pb::TargetingRule {
        conditions: vec![pb::TargetingCondition {
            attribute: "app_version".into(),
            op: pb::TargetingOperator::SemverLt.into(),
            values: vec![crate::support::flags::value(json!("latest"))],
        }],
        serve: Some(pb::targeting_rule::Serve::Variant("maybe".into())),
        ..Default::default()
    }]);
    flag.variants
        .insert("Bad Name".into(), crate::support::flags::value(json!(1)));
    let refused = client
        .create_flag(pb::CreateFlagRequest {
            flag: Some(flag),
            flag_id: "Bad".into(),
            request_id: String::new(),
        })
        .await
        .expect_err("a malformed flag");
    let mut fields = invalid_fields(&refused);
    fields.sort();
    assert_eq!(
        fields,
        [
            "flag.rules[0].conditions[0].values[0]",
            "flag.rules[0].variant",
            "flag.variants[\"Bad Name\"]",
            "flag.variants[\"Bad Name\"]",
            "flag_id",
        ]
    );
    server.stop().await;
}

crate::backend_tests!(
    flags_are_created_read_listed_updated_and_deleted,
    malformed_flags_are_refused_by_field,
);
