//! Entry points for fuzzing. Each takes untrusted bytes the way a caller's
//! request reaches one family of tenantd's parsers and decoders, runs
//! them, and asserts what must hold of the answer. `fuzz/` drives them
//! with libFuzzer, and the property tests (`properties.rs`) drive them
//! with generated inputs. None of them touches a database or the network. They fail only by panicking: a refused input is an
//! answer, not a failure. [`seeds`] gives valid inputs for each, to start
//! the fuzzer's corpus from.

mod seeds;

#[cfg(test)]
mod properties;

use std::collections::HashMap;

use chrono::{TimeZone, Utc};
use prost::Message;
use serde_json::{Map, Value};

use crate::domain::audit::{AuditQuery, apply_filter};
use crate::domain::config::{ConfigName, LayerChange, apply_patch, check_comment, check_limits};
use crate::domain::config_schema::ConfigSchema;
use crate::domain::filter::{self, MAX_COMPARISONS, MAX_FILTER_BYTES};
use crate::domain::flag::{Flag, parse_flag_name, parse_override_name};
use crate::domain::flag_eval::{Layers, Outcome, Subject, TenantFacts, evaluate};
use crate::domain::ids::{
    ApiKeyName, AuditParent, DomainName, QuotaOverrideName, TenantId, TenantRef,
    parse_canonical_uuid,
};
use crate::domain::metric::{Aggregation, Metric};
use crate::domain::paging::{MAX_PAGE_TOKEN_BYTES, PageTokens};
use crate::domain::tenant::TenantQuery;
use crate::domain::tenant_archive::control_rows;
use crate::domain::tenants::apply_tenant_filter;
use crate::domain::usage_event::{Checks, MAX_QUANTITY, UsageSettings, precheck, validate};
use crate::domain::validate;
use crate::envoy::service::ratelimit::v3 as rls;
use crate::error::{Error, Result};
use crate::grpc::codec::{WireName, decode_message};
use crate::pb;

pub use seeds::seeds;

/// `data` cut in two: its first two bytes (little-endian) give the length
/// of the first part, the rest is the second ([`join`] undoes it).
fn halves(data: &[u8]) -> (&[u8], &[u8]) {
    let [low, high, rest @ ..] = data else {
        return (data, &[]);
    };
    rest.split_at(usize::from(u16::from_le_bytes([*low, *high])).min(rest.len()))
}

/// The input [`halves`] cuts into `first` and `second`.
pub fn join(first: &[u8], second: &[u8]) -> Vec<u8> {
    let length = u16::try_from(first.len()).unwrap_or(u16::MAX);
    let mut joined = length.to_le_bytes().to_vec();
    joined.extend_from_slice(&first[..usize::from(length)]);
    joined.extend_from_slice(second);
    joined
}

/// `data` as text, as a caller's string field would arrive: invalid UTF-8
/// never reaches a parser (prost refuses it), so it is replaced here.
fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// `data` decoded as `M`, as the request codec would decode it.
fn message<M: Message + Default + WireName>(data: &[u8]) -> Option<M> {
    decode_message::<M>(&mut &data[..]).ok()
}

/// Filters: the parser's bounds, and each listing's reading of the
/// comparisons (ListTenants, ListAuditEvents, ListFlags).
pub fn filter(data: &[u8]) {
    let text = text(data);
    let Ok(comparisons) = filter::parse(&text, "filter") else {
        return;
    };
    assert!(
        text.len() <= MAX_FILTER_BYTES,
        "an over-long filter was read"
    );
    assert!(
        comparisons.len() <= MAX_COMPARISONS,
        "too many comparisons were read"
    );
    for comparison in &comparisons {
        let controls = [&comparison.field, &comparison.value]
            .iter()
            .any(|part| part.chars().any(char::is_control));
        assert!(!controls, "a control character passed the filter");
    }
    let mut tenants = TenantQuery::default();
    for comparison in &comparisons {
        let _ = apply_tenant_filter(&mut tenants, comparison);
    }
    let _ = apply_filter(&mut AuditQuery::default(), &comparisons, "filter");
    let _ = crate::grpc::flag_service::flag_filter(&text);
}

/// Page tokens: anything a caller makes up is refused; a token issued for
/// one query reads back as issued and only for that query; a token with
/// any one byte changed is refused.
pub fn page_token(data: &[u8]) {
    let tokens = PageTokens::new(b"the key of the fuzz target's tokens").expect("a key");
    let forged = text(data);
    let read = tokens.decode(&forged, "fingerprint", "page_token");
    assert!(
        forged.is_empty() || read.is_err(),
        "a made-up token was accepted: {forged:?}"
    );
    let (after, fingerprint) = halves(data);
    let (after, fingerprint) = (text(after), text(fingerprint));
    let token = tokens.encode(&after, &fingerprint);
    if token.len() > MAX_PAGE_TOKEN_BYTES {
        assert!(tokens.decode(&token, &fingerprint, "page_token").is_err());
        return;
    }
    let read = tokens.decode(&token, &fingerprint, "page_token");
    assert_eq!(read.ok().flatten().as_deref(), Some(after.as_str()));
    assert!(
        tokens
            .decode(&token, &format!("{fingerprint}."), "page_token")
            .is_err(),
        "a token was accepted for another query"
    );
    let mut edited = token.into_bytes();
    let position = data.len() % edited.len();
    edited[position] = if edited[position] == b'A' { b'B' } else { b'A' };
    let edited = String::from_utf8(edited).expect("tokens are ASCII");
    assert!(
        tokens.decode(&edited, &fingerprint, "page_token").is_err(),
        "an edited token was accepted"
    );
}

/// Resource names, ids, slugs, labels and hostnames.
pub fn names(data: &[u8]) {
    let name = text(data);
    let name = name.as_str();
    if let Ok(id) = TenantId::parse(name, "name") {
        // An id reads back as itself from its own name.
        let again = TenantRef::parse_name(&id.resource_name(), "name");
        assert!(matches!(again, Ok(TenantRef::Id(same)) if same == id));
    }
    let _ = TenantRef::parse_name(name, "name");
    let _ = parse_canonical_uuid(name, "name");
    let _ = DomainName::parse(name, "name");
    let _ = ApiKeyName::parse(name, "name");
    let _ = QuotaOverrideName::parse(name, "name");
    let _ = AuditParent::parse(name, "name");
    let _ = ConfigName::parse(name, "name");
    let _ = ConfigName::parse_version(name, "name");
    let _ = parse_flag_name(name, "name");
    let _ = parse_override_name(name, "name");
    let _ = validate::storable_text(name, "name");
    let _ = validate::hostname(name, "name");
    let mut violations = Vec::new();
    validate::slug(name, "slug", &mut violations);
    validate::display_name(name, "display_name", &mut violations);
    validate::reason(name, "reason", true, &mut violations);
    validate::plan(name, "plan", &mut violations);
    let (key, value) = halves(data);
    let labels = [(text(key), text(value))].into_iter().collect();
    validate::labels(&labels, "labels", &mut violations);
}

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
            crate::grpc::config_convert::layer_change(values, request.update_mask.as_ref()).ok(),
        );
    }
    if let Some(request) = message::<pb::UpdateBrandingRequest>(second)
        && let Some(branding) = &request.branding
    {
        changes.extend(
            crate::grpc::config_convert::branding_change(branding, request.update_mask.as_ref())
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
            crate::domain::config::merge(&mut effective, &current);
            crate::domain::config::merge(&mut effective, &values);
            let _ = schema.validate(&effective);
            let _ = crate::grpc::config_convert::struct_of(&values);
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
        .and_then(|request| crate::grpc::flag_convert::SetOverride::try_from(&request).ok());
    let context = message::<pb::EvaluateFlagRequest>(asked)
        .and_then(|request| crate::grpc::flag_convert::Evaluate::try_from(&request).ok())
        .map(|evaluate| evaluate.request.context)
        .unwrap_or_default();
    let Some(created) = message::<pb::CreateFlagRequest>(definition)
        .and_then(|request| crate::grpc::flag_convert::CreateFlag::try_from(&request).ok())
    else {
        return;
    };
    let stored = serde_json::to_string(&created.new.spec).expect("a spec serialises");
    let read: crate::domain::flag::FlagSpec =
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
        revision: 1,
        create_time: at,
        update_time: at,
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
        let _ = crate::grpc::usage_convert::usage_query(&request);
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
        display_name: key.to_owned(),
        description: String::new(),
        unit: "1".to_owned(),
        aggregation,
        unique_dimension: unique_dimension.to_owned(),
        revision: 1,
        create_time: at,
        update_time: at,
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
    for event in crate::grpc::usage_convert::raw_events(request.events) {
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
pub fn envoy_descriptors(data: &[u8]) {
    let Some(request) = message::<rls::RateLimitRequest>(data) else {
        return;
    };
    if let Ok(checks) = crate::grpc::ratelimit_service::checks(&request) {
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
    let Ok(archive) = crate::grpc::tenant_archive::read_file(data) else {
        return;
    };
    let _ = archive.verify();
    let manifest = &archive.manifest;
    let sealed = crate::domain::archive::Archive::new(
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
    let _ = crate::grpc::tenant_archive::chunks(&sealed);
}

fn decode_as<M: Message + Default + WireName>(data: &[u8]) -> Result<()> {
    let decoded: M = decode_message(&mut &data[..])?;
    // What was accepted holds no unstorable text, encoded again either.
    let again = decoded.encode_to_vec();
    assert!(
        crate::grpc::wire_scan::unstorable_field(M::NAME, &again).is_none(),
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
        let _ = crate::grpc::convert::new_tenant(&request);
    }
    if let Some(request) = message::<pb::UpdateTenantRequest>(bytes)
        && let Some(tenant) = &request.tenant
    {
        let _ = crate::grpc::convert::tenant_patch(tenant, request.update_mask.as_ref());
    }
    if let Some(request) = message::<pb::CreateApiKeyRequest>(bytes) {
        let _ = crate::grpc::api_keys::new_api_key(&request);
    }
    if let Some(request) = message::<pb::CreatePlanRequest>(bytes) {
        let _ = crate::grpc::quota_convert::new_plan(&request);
    }
    if let Some(request) = message::<pb::SetQuotaOverrideRequest>(bytes) {
        let _ = crate::grpc::quota_convert::override_change(request.quota_override.as_ref());
    }
    if let Some(request) = message::<pb::AllocateQuotaRequest>(bytes) {
        let _ = crate::grpc::quota_call::quota_call(
            &request.costs,
            request.mode,
            &request.request_id,
            false,
        );
    }
    if let Some(request) = message::<pb::GetQuotaStatusRequest>(bytes) {
        let _ = crate::grpc::quota_call::status_keys(&request.quotas);
    }
    if let Some(request) = message::<pb::CreateMetricRequest>(bytes) {
        let _ = crate::grpc::usage_convert::new_metric(&request);
    }
}

/// One entry point.
pub type Target = fn(&[u8]);

/// Every entry point by the name of its fuzz target.
pub const TARGETS: &[(&str, Target)] = &[
    ("filter", filter),
    ("page_token", page_token),
    ("names", names),
    ("config", config),
    ("flags", flags),
    ("usage_events", usage_events),
    ("envoy_descriptors", envoy_descriptors),
    ("tenant_archive", tenant_archive),
    ("request", request),
];

/// Writes the [`seeds`] of `target` into the corpus directory of this
/// libFuzzer process (its first argument that is a directory), so a run
/// starts from them; a fuzz target calls it once, before fuzzing.
pub fn seed_corpus(target: &str) {
    let Some(corpus) = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .map(std::path::PathBuf::from)
        .find(|path| path.is_dir())
    else {
        return;
    };
    for (index, seed) in seeds(target).iter().enumerate() {
        let path = corpus.join(format!("seed-{index}"));
        if !path.exists()
            && let Err(error) = std::fs::write(&path, seed)
        {
            eprintln!("could not write the seed {}: {error}", path.display());
        }
    }
}
