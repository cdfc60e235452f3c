//! The fuzz targets whose inputs are protobuf messages: configuration
//! documents, flags, usage batches, Envoy descriptors, tenant archives and
//! every request type through the codec (with the conversions of the
//! requests that carry most caller input: tenants and their onboarding,
//! keys, plans, quotas, metrics, event watches and webhook endpoints).

use std::collections::HashMap;

use chrono::{TimeZone, Utc};
use prost::Message;
use serde_json::{Map, Value};

use crate::common::ids::{TenantId, TenantRef};
use crate::config::patch::{LayerChange, apply_patch, check_comment, check_limits};
use crate::config::schema::ConfigSchema;
use crate::error::{Error, Result};
use crate::flags::eval::{Layers, Outcome, Subject, TenantFacts, evaluate};
use crate::flags::flag::Flag;
use crate::fuzzing::{halves, message};
use crate::pb;
use crate::rpc::codec::{WireName, decode_message};
use crate::store::revision::Stamps;
use crate::tenancy::tenant_archive::control_rows;
use crate::usage::event::{Checks, MAX_QUANTITY, UsageSettings, precheck, validate};
use crate::usage::metric::{Aggregation, Metric, MetricSpec};
use envoy_types::pb::envoy::service::ratelimit::v3 as rls;

/// A base layer for the configuration target, in the shape of the shipped
/// schema.
fn base_layer() -> Map<String, Value> {
    let base = serde_json::json!({
        "branding": {"primary_color": "#112233"},
        "limits": {"seats": 10},
        "features": {"beta": true}
    });
    match base {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// The shipped schema, compiled once: compiling it per input would be
/// most of the work.
static SHIPPED_SCHEMA: std::sync::LazyLock<ConfigSchema> =
    std::sync::LazyLock::new(|| ConfigSchema::shipped().expect("the shipped schema compiles"));

/// Configuration documents: UpdateConfig's and UpdateBranding's values
/// and masks, applied to a layer, held to the document limits and the
/// shipped schema.
pub fn config(data: &[u8]) {
    let (first, second) = halves(data);
    let current = base_layer();
    let mut changes = Vec::new();
    if let Some(request) = message::<pb::UpdateConfigRequest>(first) {
        let _ = check_comment(&request.comment, "comment");
        let values = request
            .config
            .as_ref()
            .and_then(|config| config.values.as_ref());
        changes.extend(
            crate::config::grpc::convert::layer_change(values, request.update_mask.as_ref()).ok(),
        );
    }
    if let Some(request) = message::<pb::UpdateBrandingRequest>(second)
        && let Some(branding) = &request.branding
    {
        changes.extend(
            crate::config::grpc::convert::branding_change(branding, request.update_mask.as_ref())
                .ok(),
        );
    }
    let schema = &*SHIPPED_SCHEMA;
    for change in changes {
        let values = match change {
            LayerChange::Replace(values) => values,
            LayerChange::Patch { values, paths } => {
                assert!(
                    paths.iter().all(|path| !path.is_empty()),
                    "an empty mask path"
                );
                apply_patch(&current, &values, &paths)
            }
            LayerChange::Restore(_) => continue,
        };
        if check_limits(&values, "config.values").is_ok() {
            let mut effective = Map::new();
            crate::config::layered::merge(&mut effective, &current);
            crate::config::layered::merge(&mut effective, &values);
            let _ = schema.validate(&effective);
            let _ = crate::config::grpc::convert::struct_of(&values);
        }
    }
}

/// Flags: CreateFlag's definition and SetFlagOverride's override, read as
/// the service reads them, then evaluated with EvaluateFlag's context.
/// A definition that is accepted survives its storage as JSON unchanged.
pub fn flags(data: &[u8]) {
    let (definition, rest) = halves(data);
    let (layer, asked) = halves(rest);
    let layer = message::<pb::SetFlagOverrideRequest>(layer)
        .and_then(|request| crate::flags::grpc::convert::SetOverride::try_from(&request).ok());
    let context = message::<pb::EvaluateFlagRequest>(asked)
        .and_then(|request| crate::flags::grpc::convert::Evaluate::try_from(&request).ok())
        .map(|evaluate| evaluate.request.context)
        .unwrap_or_default();
    let Some(created) = message::<pb::CreateFlagRequest>(definition)
        .and_then(|request| crate::flags::grpc::convert::CreateFlag::try_from(&request).ok())
    else {
        return;
    };
    let stored = serde_json::to_string(&created.new.spec).expect("a spec serialises");
    let read: crate::flags::flag::FlagSpec =
        serde_json::from_str(&stored).expect("a spec reads back");
    assert_eq!(
        read.rules, created.new.spec.rules,
        "rules changed in storage"
    );
    let at = Utc.timestamp_opt(0, 0).single().unwrap_or_default();
    let flag = Flag {
        key: created.new.key,
        value_type: created.new.value_type,
        spec: created.new.spec,
        stamps: Stamps::first(at),
    };
    let tenant = TenantFacts::default();
    let subject = Subject {
        context: &context,
        tenant: &tenant,
    };
    let layers = Layers {
        tenant: layer.as_ref().map(|layer| &layer.spec),
        plan: None,
    };
    if context.problem().is_none()
        && let Outcome::Served { variant, .. } = evaluate(&flag, layers, subject)
    {
        let known = flag.spec.variants.contains_key(variant);
        assert!(known, "served the unknown variant {variant:?}");
    }
    let _ = evaluate(&flag, Layers::default(), subject);
}

/// Usage events: ReportUsage's batch, each event prechecked and checked
/// against a catalogue as the service does, and QueryUsage's request.
pub fn usage_events(data: &[u8]) {
    let (batch, query) = halves(data);
    if let Some(request) = message::<pb::QueryUsageRequest>(query) {
        let _ = crate::usage::grpc::convert::usage_query(&request);
    }
    let Some(request) = message::<pb::ReportUsageRequest>(batch) else {
        return;
    };
    let at = Utc
        .timestamp_opt(1_800_000_000, 0)
        .single()
        .unwrap_or_default();
    let metric = |key: &str, aggregation, unique_dimension: &str| Metric {
        key: key.to_owned(),
        spec: MetricSpec {
            display_name: key.to_owned(),
            description: String::new(),
            unit: "1".to_owned(),
            aggregation,
            unique_dimension: unique_dimension.to_owned(),
        },
        stamps: Stamps::first(at),
    };
    let metrics: HashMap<String, Metric> = [
        metric("api.calls", Aggregation::Sum, ""),
        metric("users", Aggregation::UniqueCount, "user"),
        metric("peak", Aggregation::Max, ""),
    ]
    .into_iter()
    .map(|metric| (metric.key.clone(), metric))
    .collect();
    let settings = UsageSettings::default();
    let checks = Checks {
        now: at,
        settings: &settings,
        metrics: &metrics,
    };
    let tenant_id = TenantId::from_uuid(uuid::Uuid::from_u128(1));
    for event in crate::usage::grpc::convert::raw_events(request.events) {
        if precheck(&event).is_err() {
            continue;
        }
        let _ = TenantRef::parse_name(&event.tenant, "tenant");
        if let Ok(valid) = validate(event, tenant_id, &checks) {
            let quantity = valid.quantity;
            assert!(
                (0.0..=MAX_QUANTITY).contains(&quantity),
                "the quantity {quantity} was accepted"
            );
        }
    }
}

/// Envoy's rate limit requests: the descriptors read as quota checks.
/// Decoded with prost, as the service's generated server decodes them.
pub fn envoy_descriptors(data: &[u8]) {
    let Ok(request) = rls::RateLimitRequest::decode(data) else {
        return;
    };
    if let Ok(checks) = crate::quota::grpc::ratelimit::checks(&request) {
        assert!(!checks.is_empty());
        assert!(
            checks.iter().all(|check| check.hits >= 1),
            "a check adds no hits"
        );
    }
}

/// Tenant archives: a file of length-delimited chunks (ImportTenant's
/// stream is the same chunks), assembled and verified. Its sections are
/// then sealed anew, as a real export would be, so the rows are read as
/// an import reads them even when the fuzzer could not forge checksums.
pub fn tenant_archive(data: &[u8]) {
    let Ok(archive) = crate::tenancy::grpc::archive::read_file(data) else {
        return;
    };
    let _ = archive.verify();
    let manifest = &archive.manifest;
    let sealed = crate::tenancy::archive::Archive::new(
        (
            manifest.tenant_id,
            &manifest.slug,
            manifest.isolation,
            manifest.template_version,
        ),
        archive.sections.clone(),
    );
    if sealed.verify().is_ok() {
        let _ = control_rows(&sealed, manifest.tenant_id, &manifest.slug);
    }
    let _ = crate::tenancy::grpc::archive::chunks(&sealed);
}

fn decode_as<M: Message + Default + WireName>(data: &[u8]) -> Result<()> {
    let decoded: M = decode_message(&mut &data[..])?;
    // What was accepted holds no unstorable text, encoded again either.
    let again = decoded.encode_to_vec();
    assert!(
        crate::rpc::wire_scan::unstorable_field(M::NAME, &again).is_none(),
        "{} re-encoded holds unstorable text",
        M::NAME
    );
    Ok(())
}

/// Decodes one request type, as the codec does.
type Decode = fn(&[u8]) -> Result<()>;

include!(concat!(env!("OUT_DIR"), "/request_decoders.rs"));

/// Requests: any bytes as the request of any method, through the codec
/// every RPC decodes with (the first byte picks the method). The
/// conversions of the requests that carry most fields run as well.
pub fn request(data: &[u8]) {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let (name, decode) = REQUEST_DECODERS[usize::from(pick) % REQUEST_DECODERS.len()];
    if let Err(error) = decode(bytes) {
        let Error::InvalidArgument(violations) = &error else {
            panic!("{name}: a refusal that is not INVALID_ARGUMENT: {error:?}");
        };
        assert!(!violations.is_empty(), "{name}: a refusal naming no field");
        return;
    }
    if let Some(request) = message::<pb::CreateTenantRequest>(bytes) {
        let _ = crate::tenancy::grpc::convert::new_tenant(&request);
        // With the onboarding input the created event carries.
        let _ = crate::tenancy::grpc::convert::create_tenant(&request);
    }
    if let Some(request) = message::<pb::WatchEventsRequest>(bytes)
        && let Ok(spec) = crate::events::grpc::convert::watch_spec(&request)
    {
        use crate::events::grpc::convert::{MAX_TENANTS, MAX_TYPES};
        assert!(
            spec.filter.types.len() <= MAX_TYPES,
            "too many event types kept"
        );
        assert!(
            spec.filter.tenants.len() <= MAX_TENANTS,
            "too many tenants kept"
        );
    }
    if let Some(request) = message::<pb::CreateWebhookEndpointRequest>(bytes)
        && let Some(endpoint) = &request.webhook_endpoint
    {
        let _ = crate::events::webhooks::endpoint::NewEndpoint::parse(
            &endpoint.url,
            &endpoint.event_types,
            "webhook_endpoint",
        );
    }
    if let Some(request) = message::<pb::UpdateTenantRequest>(bytes)
        && let Some(tenant) = &request.tenant
    {
        let _ = crate::tenancy::grpc::patch::tenant_patch(tenant, request.update_mask.as_ref());
    }
    if let Some(request) = message::<pb::CreateApiKeyRequest>(bytes) {
        let _ = crate::access::convert::new_api_key(&request);
    }
    if let Some(request) = message::<pb::CreatePlanRequest>(bytes) {
        let _ = crate::quota::grpc::convert::new_plan(&request);
    }
    if let Some(request) = message::<pb::SetQuotaOverrideRequest>(bytes) {
        let _ = crate::quota::grpc::convert::override_change(request.quota_override.as_ref());
    }
    if let Some(request) = message::<pb::AllocateQuotaRequest>(bytes) {
        let _ = crate::quota::grpc::call::quota_call(
            &request.costs,
            request.mode,
            &request.request_id,
            false,
        );
    }
    if let Some(request) = message::<pb::GetQuotaStatusRequest>(bytes) {
        let _ = crate::quota::grpc::call::status_keys(&request.quotas);
    }
    if let Some(request) = message::<pb::CreateMetricRequest>(bytes) {
        let _ = crate::usage::grpc::convert::new_metric(&request);
    }
}
