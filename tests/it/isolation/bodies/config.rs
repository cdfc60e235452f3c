//! Request bodies of the ConfigService RPCs (configs and flags) for the
//! isolation matrix, and what each answers tenant A.

use tenantd::pb;
use tonic::Code;

use super::super::{Expected, Rpc};
use super::{Named, ok, refused};

/// ConfigService bodies: the configuration methods act on tenant A's
/// layer, WatchConfig watches it, the flag methods act on a flag that does
/// not exist (see [`flag_body`]).
pub(super) fn config_body(rpc: &Rpc, tenant: &Named) -> (Vec<u8>, Expected) {
    let parent = format!("tenants/{}", tenant.id);
    let name = format!("{parent}/config");
    let values = tenantd::rpc::convert::json_object(serde_json::json!({"matrix": true}));
    match rpc.method.as_str() {
        "GetConfig" => ok(pb::GetConfigRequest {
            name,
            ..Default::default()
        }),
        "UpdateConfig" => ok(pb::UpdateConfigRequest {
            config: Some(pb::Config {
                name,
                values,
                ..Default::default()
            }),
            ..Default::default()
        }),
        "ListConfigVersions" => ok(pb::ListConfigVersionsRequest {
            parent: name,
            ..Default::default()
        }),
        // Tenant A's layer has never been written.
        "GetConfigVersion" => refused(
            pb::GetConfigVersionRequest {
                name: format!("{name}/versions/1"),
            },
            Code::NotFound,
            "CONFIG_VERSION_NOT_FOUND",
        ),
        "RollbackConfig" => refused(
            pb::RollbackConfigRequest {
                name,
                version: 1,
                ..Default::default()
            },
            Code::NotFound,
            "CONFIG_VERSION_NOT_FOUND",
        ),
        "GetBranding" => ok(pb::GetBrandingRequest {
            name: format!("{parent}/branding"),
        }),
        "UpdateBranding" => ok(pb::UpdateBrandingRequest {
            branding: Some(pb::Branding {
                name: format!("{parent}/branding"),
                primary_color: "#336699".to_owned(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        "WatchConfig" => ok(pb::WatchConfigRequest {
            parent,
            ..Default::default()
        }),
        _ => flag_body(rpc, &parent),
    }
}

/// The flag methods' bodies: no flag exists on the matrix's server, so
/// reads of one are NOT_FOUND, listings and evaluations succeed (an
/// evaluation answers FLAG_NOT_FOUND inside the result), and creation
/// without a body is malformed. Overrides act on tenant A (`parent`).
fn flag_body(rpc: &Rpc, parent: &str) -> (Vec<u8>, Expected) {
    let flag = "flags/matrix-flag".to_owned();
    let override_name = format!("{parent}/flagOverrides/matrix-flag");
    let not_found = Code::NotFound;
    match rpc.method.as_str() {
        "CreateFlag" => refused(
            pb::CreateFlagRequest::default(),
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
        ),
        "GetFlag" => refused(
            pb::GetFlagRequest { name: flag },
            not_found,
            "FLAG_NOT_FOUND",
        ),
        "ListFlags" => ok(pb::ListFlagsRequest::default()),
        "UpdateFlag" => refused(
            pb::UpdateFlagRequest {
                flag: Some(pb::Flag {
                    name: flag,
                    description: "matrix".to_owned(),
                    ..Default::default()
                }),
                update_mask: None,
            },
            not_found,
            "FLAG_NOT_FOUND",
        ),
        "DeleteFlag" => refused(
            pb::DeleteFlagRequest {
                name: flag,
                etag: String::new(),
            },
            not_found,
            "FLAG_NOT_FOUND",
        ),
        "SetFlagOverride" => refused(
            pb::SetFlagOverrideRequest {
                flag_override: Some(pb::FlagOverride {
                    name: override_name,
                    enabled: Some(true),
                    ..Default::default()
                }),
            },
            not_found,
            "FLAG_NOT_FOUND",
        ),
        "ListFlagOverrides" => ok(pb::ListFlagOverridesRequest {
            parent: parent.to_owned(),
            ..Default::default()
        }),
        "DeleteFlagOverride" => refused(
            pb::DeleteFlagOverrideRequest {
                name: override_name,
                etag: String::new(),
            },
            not_found,
            "FLAG_OVERRIDE_NOT_FOUND",
        ),
        "EvaluateFlag" => ok(pb::EvaluateFlagRequest {
            parent: parent.to_owned(),
            flag: "matrix-flag".to_owned(),
            ..Default::default()
        }),
        "EvaluateFlags" => ok(pb::EvaluateFlagsRequest {
            parent: parent.to_owned(),
            ..Default::default()
        }),
        _ => panic!("no request body for {}", rpc.label()),
    }
}
