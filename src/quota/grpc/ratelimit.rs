//! Envoy's `RateLimitService.ShouldRateLimit`: decode the descriptors,
//! charge them against tenants' plans, encode the verdicts with the
//! `x-ratelimit-*` response headers of the IETF draft Envoy itself emits
//! (`limit`, `remaining`, `reset`), taken from the most constrained
//! descriptor.

use tonic::{Request, Response, Status};

use envoy_types::pb::google::protobuf::Duration;

use crate::access::context;
use crate::common::validate::UNSTORABLE_TEXT;
use crate::error::{Error, FieldViolation, Result, Violations};
use crate::quota::limiter::bounds::{MAX_AMOUNT, amount_violation};
use crate::quota::plan::QuotaPeriod;
use crate::quota::ratelimit::{
    DescriptorCheck, DescriptorVerdict, MAX_DESCRIPTORS, MAX_ENTRIES, MAX_ENTRY_KEY_BYTES,
    MAX_ENTRY_VALUE_BYTES, RateLimits,
};
use envoy_types::pb::envoy::config::core::v3::HeaderValue;
use envoy_types::pb::envoy::service::ratelimit::v3 as rls;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::rate_limit::Unit;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::{
    Code, DescriptorStatus, RateLimit,
};
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_service_server::RateLimitService;

/// The RateLimitService implementation.
pub struct RateLimitApi {
    /// The verdicts.
    limits: RateLimits,
}

impl RateLimitApi {
    /// Serves `limits`.
    pub fn new(limits: RateLimits) -> Self {
        Self { limits }
    }
}

/// Refuses text `field` that is over `max` bytes or holds a NUL, which
/// the database cannot store (Envoy's messages are not in the descriptor
/// set the request codec's scan walks, so their text is checked here).
fn check_text(violations: &mut Vec<FieldViolation>, field: String, text: &str, max: usize) {
    if text.len() > max {
        violations.refuse(field, format!("must be at most {max} bytes"));
    } else if text.contains('\0') {
        violations.refuse(field, UNSTORABLE_TEXT);
    }
}

/// The violations of the request's size bounds: the domain's length, each
/// descriptor's number of entries, each entry's key and value lengths, and
/// NULs in any of that text. Counts, lengths and one scan of each text,
/// so it is cheap; run before anything else.
fn size_violations(request: &rls::RateLimitRequest) -> Vec<FieldViolation> {
    let mut violations = Vec::new();
    let domain = "domain".to_owned();
    check_text(
        &mut violations,
        domain,
        &request.domain,
        MAX_ENTRY_VALUE_BYTES,
    );
    for (index, descriptor) in request.descriptors.iter().enumerate() {
        let field = format!("descriptors[{index}].entries");
        if descriptor.entries.len() > MAX_ENTRIES {
            violations.refuse(field, format!("must hold at most {MAX_ENTRIES} entries"));
            continue;
        }
        for (position, entry) in descriptor.entries.iter().enumerate() {
            let key = format!("{field}[{position}].key");
            check_text(&mut violations, key, &entry.key, MAX_ENTRY_KEY_BYTES);
            let value = format!("{field}[{position}].value");
            check_text(&mut violations, value, &entry.value, MAX_ENTRY_VALUE_BYTES);
        }
    }
    violations
}

/// Reads the request's descriptors: at least one, at most
/// [`MAX_DESCRIPTORS`], within the size bounds, each charged its own
/// `hits_addend` (a `uint64`, at most [`MAX_AMOUNT`]), else the request's,
/// else 1 (any `uint32` is within the quota bounds).
pub(crate) fn checks(request: &rls::RateLimitRequest) -> Result<Vec<DescriptorCheck>> {
    if request.descriptors.is_empty() || request.descriptors.len() > MAX_DESCRIPTORS {
        return Err(Error::invalid_field(
            "descriptors",
            format!("must hold 1 to {MAX_DESCRIPTORS} descriptors"),
        ));
    }
    let violations = size_violations(request);
    if !violations.is_empty() {
        return Err(Error::InvalidArgument(violations));
    }
    let default_hits = i64::from(request.hits_addend.max(1));
    let mut violations = Vec::new();
    let checks = request
        .descriptors
        .iter()
        .enumerate()
        .map(|(index, descriptor)| {
            let entries: Vec<(String, String)> = descriptor
                .entries
                .iter()
                .map(|entry| (entry.key.clone(), entry.value.clone()))
                .collect();
            let hits = match &descriptor.hits_addend {
                None => default_hits,
                Some(hits) => i64::try_from(hits.value.max(1))
                    .ok()
                    .filter(|hits| *hits <= MAX_AMOUNT)
                    .unwrap_or_else(|| {
                        let field = format!("descriptors[{index}].hits_addend");
                        violations.push(amount_violation(field, "a descriptor's hits"));
                        1
                    }),
            };
            DescriptorCheck::read(index, &entries, hits, &mut violations)
        })
        .collect();
    if violations.is_empty() {
        Ok(checks)
    } else {
        Err(Error::InvalidArgument(violations))
    }
}

fn unit(period: Option<QuotaPeriod>) -> Unit {
    match period {
        Some(QuotaPeriod::Second) => Unit::Second,
        Some(QuotaPeriod::Minute) => Unit::Minute,
        Some(QuotaPeriod::Hour) => Unit::Hour,
        Some(QuotaPeriod::Day) => Unit::Day,
        Some(QuotaPeriod::Month) => Unit::Month,
        None => Unit::Unknown,
    }
}

/// The window of a RATE or daily quota in seconds, for `;w=`; months vary.
fn window_seconds(period: Option<QuotaPeriod>) -> Option<u64> {
    match period? {
        QuotaPeriod::Second => Some(1),
        QuotaPeriod::Minute => Some(60),
        QuotaPeriod::Hour => Some(3_600),
        QuotaPeriod::Day => Some(86_400),
        QuotaPeriod::Month => None,
    }
}

fn saturate(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

fn status(verdict: &DescriptorVerdict) -> DescriptorStatus {
    DescriptorStatus {
        code: if verdict.over_limit {
            Code::OverLimit
        } else {
            Code::Ok
        }
        .into(),
        current_limit: verdict.limit.map(|limit| RateLimit {
            name: verdict.quota.clone(),
            requests_per_unit: saturate(limit),
            unit: unit(verdict.period).into(),
        }),
        limit_remaining: saturate(verdict.remaining),
        duration_until_reset: verdict.reset_after.map(|after| Duration {
            seconds: i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
            nanos: i32::try_from(after.subsec_nanos()).unwrap_or(0),
        }),
        ..Default::default()
    }
}

/// The `x-ratelimit-*` headers of the most constrained limited descriptor:
/// one over its limit, else the one with the least remaining.
fn headers(verdicts: &[DescriptorVerdict]) -> Vec<HeaderValue> {
    let Some(tightest) = verdicts
        .iter()
        .filter(|verdict| verdict.limit.is_some())
        .min_by_key(|verdict| (!verdict.over_limit, verdict.remaining))
    else {
        return Vec::new();
    };
    let limit = tightest.limit.unwrap_or_default();
    let policy = match window_seconds(tightest.period) {
        Some(window) => format!("{limit}, {limit};w={window}"),
        None => limit.to_string(),
    };
    let reset = tightest.reset_after.map_or(0, |after| {
        after.as_secs() + u64::from(after.subsec_nanos() > 0)
    });
    [
        ("x-ratelimit-limit", policy),
        (
            "x-ratelimit-remaining",
            tightest.remaining.max(0).to_string(),
        ),
        ("x-ratelimit-reset", reset.to_string()),
    ]
    .into_iter()
    .map(|(key, value)| HeaderValue {
        key: key.to_owned(),
        value,
        ..Default::default()
    })
    .collect()
}

/// The answer to `verdicts`.
fn response(verdicts: &[DescriptorVerdict]) -> rls::RateLimitResponse {
    let over = verdicts.iter().any(|verdict| verdict.over_limit);
    rls::RateLimitResponse {
        overall_code: if over { Code::OverLimit } else { Code::Ok }.into(),
        statuses: verdicts.iter().map(status).collect(),
        response_headers_to_add: headers(verdicts),
        ..Default::default()
    }
}

#[tonic::async_trait]
impl RateLimitService for RateLimitApi {
    async fn should_rate_limit(
        &self,
        request: Request<rls::RateLimitRequest>,
    ) -> Result<Response<rls::RateLimitResponse>, Status> {
        let context = context(&request)?;
        let checks = checks(request.get_ref())?;
        let verdicts = self.limits.should_rate_limit(&context, checks).await?;
        Ok(Response::new(response(&verdicts)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(over_limit: bool, limit: Option<i64>, remaining: i64) -> DescriptorVerdict {
        use std::time::Duration;
        DescriptorVerdict {
            quota: "api_requests".to_owned(),
            over_limit,
            limit,
            period: Some(QuotaPeriod::Second),
            remaining,
            reset_after: Some(Duration::from_millis(300)),
        }
    }

    fn header(headers: &[HeaderValue], key: &str) -> String {
        headers
            .iter()
            .find(|header| header.key == key)
            .map(|header| header.value.clone())
            .unwrap_or_default()
    }

    #[test]
    fn headers_follow_the_most_constrained_descriptor() {
        let answer = response(&[verdict(false, Some(10), 7), verdict(false, Some(50), 2)]);
        assert_eq!(answer.overall_code, i32::from(Code::Ok));
        let headers = &answer.response_headers_to_add;
        assert_eq!(header(headers, "x-ratelimit-limit"), "50, 50;w=1");
        assert_eq!(header(headers, "x-ratelimit-remaining"), "2");
        assert_eq!(header(headers, "x-ratelimit-reset"), "1", "rounded up");

        let answer = response(&[verdict(false, Some(10), 1), verdict(true, Some(50), 0)]);
        assert_eq!(answer.overall_code, i32::from(Code::OverLimit));
        assert_eq!(
            header(&answer.response_headers_to_add, "x-ratelimit-limit"),
            "50, 50;w=1"
        );
        let codes: Vec<i32> = answer.statuses.iter().map(|status| status.code).collect();
        assert_eq!(codes, [i32::from(Code::Ok), i32::from(Code::OverLimit)]);
    }

    #[test]
    fn nul_text_and_hits_beyond_the_bounds_are_refused_naming_the_field() {
        use envoy_types::pb::envoy::extensions::common::ratelimit::v3::RateLimitDescriptor;
        use envoy_types::pb::envoy::extensions::common::ratelimit::v3::rate_limit_descriptor::Entry;
        use envoy_types::pb::google::protobuf::UInt64Value;
        let descriptor = |value: &str, hits: u64| RateLimitDescriptor {
            entries: vec![Entry {
                key: "tenant_slug".to_owned(),
                value: value.to_owned(),
            }],
            hits_addend: Some(UInt64Value { value: hits }),
            ..Default::default()
        };
        let fields = |descriptor: RateLimitDescriptor| {
            let request = rls::RateLimitRequest {
                descriptors: vec![descriptor],
                ..Default::default()
            };
            match checks(&request) {
                Err(Error::InvalidArgument(violations)) => violations
                    .into_iter()
                    .map(|violation| violation.field)
                    .collect::<Vec<_>>(),
                other => panic!("not refused: {other:?}"),
            }
        };
        assert_eq!(
            fields(descriptor("ac\0me", 1)),
            ["descriptors[0].entries[0].value"]
        );
        let beyond = u64::try_from(MAX_AMOUNT).unwrap() + 1;
        assert_eq!(
            fields(descriptor("acme", beyond)),
            ["descriptors[0].hits_addend"]
        );
        let within = rls::RateLimitRequest {
            descriptors: vec![descriptor("acme", u64::try_from(MAX_AMOUNT).unwrap())],
            ..Default::default()
        };
        assert_eq!(checks(&within).unwrap()[0].hits, MAX_AMOUNT);
    }

    #[test]
    fn unlimited_quotas_add_no_headers() {
        let answer = response(&[verdict(false, None, i64::MAX)]);
        assert!(answer.response_headers_to_add.is_empty());
        assert_eq!(answer.statuses[0].current_limit, None);
        assert_eq!(answer.statuses[0].limit_remaining, u32::MAX);
    }
}
