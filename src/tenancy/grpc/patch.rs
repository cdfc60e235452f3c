//! UpdateTenant's field mask and values, validated into a patch.

use prost_types::FieldMask;

use crate::common::validate;
use crate::error::{FieldViolation, Result, Violations};
use crate::pb;
use crate::rpc::convert::into_result;
use crate::tenancy::grpc::convert::sorted_labels;
use crate::tenancy::tenant::{SourceRanges, TenantPatch};

const MUTABLE_TENANT_FIELDS: [&str; 6] = [
    "display_name",
    "slug",
    "plan",
    "labels",
    "external_id",
    "allowed_source_ranges",
];

const OUTPUT_ONLY_TENANT_FIELDS: [&str; 10] = [
    "name",
    "id",
    "state",
    "state_reason",
    "create_time",
    "update_time",
    "delete_time",
    "purge_time",
    "etag",
    "template_version",
];

/// Validates an UpdateTenant request into a patch. Without a mask, every
/// mutable field with a non-empty value is updated (AIP-134).
pub fn tenant_patch(tenant: &pb::Tenant, mask: Option<&FieldMask>) -> Result<TenantPatch> {
    let mut violations = Vec::new();
    let paths = patch_paths(tenant, mask, &mut violations);
    let mut patch = TenantPatch::default();
    for path in &paths {
        patch_field(&mut patch, tenant, path, &mut violations);
    }
    into_result(patch, violations)
}

/// The fields an UpdateTenant request changes: its mask's (`*` for every
/// mutable one), or without a mask the mutable fields it sets.
fn patch_paths(
    tenant: &pb::Tenant,
    mask: Option<&FieldMask>,
    violations: &mut Vec<FieldViolation>,
) -> Vec<String> {
    let paths: Vec<String> = match mask {
        Some(mask) if mask.paths.iter().any(|path| path == "*") => {
            if mask.paths.len() > 1 {
                violations.refuse("update_mask", "`*` must be the only path");
            }
            MUTABLE_TENANT_FIELDS
                .iter()
                .map(|field| (*field).to_owned())
                .collect()
        }
        Some(mask) if !mask.paths.is_empty() => mask.paths.clone(),
        _ => {
            let populated = [
                !tenant.display_name.is_empty(),
                !tenant.slug.is_empty(),
                !tenant.plan.is_empty(),
                !tenant.labels.is_empty(),
                !tenant.external_id.is_empty(),
                !tenant.allowed_source_ranges.is_empty(),
            ];
            MUTABLE_TENANT_FIELDS
                .iter()
                .zip(populated)
                .filter(|(_, populated)| *populated)
                .map(|(field, _)| (*field).to_owned())
                .collect()
        }
    };
    if paths.is_empty() {
        violations.refuse("update_mask", "names no field to update");
    }
    paths
}

/// Validates the field `path` of `tenant` into `patch`.
fn patch_field(
    patch: &mut TenantPatch,
    tenant: &pb::Tenant,
    path: &str,
    violations: &mut Vec<FieldViolation>,
) {
    match path {
        "display_name" => {
            validate::display_name(&tenant.display_name, "tenant.display_name", violations);
            patch.display_name = Some(tenant.display_name.clone());
        }
        "slug" => {
            validate::slug(&tenant.slug, "tenant.slug", violations);
            patch.slug = Some(tenant.slug.clone());
        }
        "plan" => {
            validate::plan(&tenant.plan, "tenant.plan", violations);
            patch.plan = Some(tenant.plan.clone());
        }
        "labels" => {
            let labels = sorted_labels(&tenant.labels);
            validate::labels(&labels, "tenant.labels", violations);
            patch.labels = Some(labels);
        }
        "external_id" => {
            let field = "tenant.external_id";
            patch.external_id = Some(validate::external_id(
                &tenant.external_id,
                field,
                violations,
            ));
        }
        "allowed_source_ranges" => {
            let (ranges, field) = (
                &tenant.allowed_source_ranges,
                "tenant.allowed_source_ranges",
            );
            patch.allowed_source_ranges = Some(SourceRanges::parse(ranges, field, violations));
        }
        "isolation" => violations.refuse(
            "update_mask",
            "\"isolation\" is fixed when the tenant is created and cannot be updated",
        ),
        other if OUTPUT_ONLY_TENANT_FIELDS.contains(&other) => violations.refuse(
            "update_mask",
            format!("{other:?} is output only and cannot be updated"),
        ),
        other => violations.refuse(
            "update_mask",
            format!(
                "{other:?} is not a field of Tenant; mutable fields: {}",
                MUTABLE_TENANT_FIELDS.join(", ")
            ),
        ),
    }
}
