//! Entry points for fuzzing. Each takes untrusted bytes the way a caller's
//! request reaches one family of tenantd's parsers and decoders, runs
//! them, and asserts what must hold of the answer. `fuzz/` drives them
//! with libFuzzer, and the property tests (`properties.rs`) drive them
//! with generated inputs. None of them touches a database or the network. They fail only by panicking: a refused input is an
//! answer, not a failure. [`seeds`] gives valid inputs for each, to start
//! the fuzzer's corpus from.

mod messages;
mod seeds;

#[cfg(test)]
mod properties;

use prost::Message;

use crate::access::source::TrustedProxies;
use crate::common::filter;
use crate::common::filter::{MAX_COMPARISONS, MAX_FILTER_BYTES};
use crate::common::ids::{
    ApiKeyName, AuditParent, DomainName, QuotaOverrideName, TenantId, TenantRef,
    parse_canonical_uuid,
};
use crate::common::paging::{MAX_PAGE_TOKEN_BYTES, PageTokens};
use crate::common::validate;
use crate::config::layered::ConfigName;
use crate::flags::flag::{parse_flag_name, parse_override_name};
use crate::rpc::codec::{WireName, decode_message};
use crate::tenancy::audit::{AuditQuery, apply_filter};
use crate::tenancy::source_ranges::SourceRanges;
use crate::tenancy::tenant::TenantQuery;
use crate::tenancy::tenants::apply_tenant_filter;

pub use crate::fuzzing::messages::{
    REQUEST_DECODERS, config, envoy_descriptors, flags, request, tenant_archive, usage_events,
};
pub use crate::fuzzing::seeds::seeds;

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
    let _ = crate::flags::grpc::service::flag_filter(&text);
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

/// Resource names, ids, slugs, labels and hostnames; external ids, source
/// ranges, forwarded addresses and JWT headers.
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
    identity(name, &mut violations);
}

/// What a gateway's callers send: external ids, source ranges, forwarded
/// addresses and JWTs, read before anything verifies them.
fn identity(text: &str, violations: &mut Vec<crate::error::FieldViolation>) {
    let _ = validate::external_id(text, "external_id", violations);
    let values: Vec<String> = text.split(' ').map(str::to_owned).collect();
    let ranges = SourceRanges::parse(&values, "ranges", violations);
    // What was accepted reads back as itself.
    assert_eq!(SourceRanges::from_stored(ranges.to_strings()), Some(ranges));
    if let Ok(value) = http::HeaderValue::from_str(text) {
        let mut headers = http::HeaderMap::new();
        headers.insert(crate::access::source::FORWARDED_FOR_HEADER, value);
        let proxies = TrustedProxies::new(vec!["0.0.0.0/0".parse().expect("a range")]);
        let _ = proxies.source(Some([10, 0, 0, 1].into()), Some(&headers));
    }
    let _ = crate::access::jwt::peek(text);
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
