//! Where a tenant's API keys and users may call from: CIDR ranges, IPv4
//! and IPv6. Empty means anywhere. Operators and services are not bound
//! by a tenant's ranges: they call on behalf of many tenants.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;

use crate::error::{FieldViolation, Violations};

/// A tenant's allowed source ranges, in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct SourceRanges(Vec<IpNet>);

/// The most ranges one tenant may list.
pub const MAX_SOURCE_RANGES: usize = 100;

impl SourceRanges {
    /// Validates `values` (`203.0.113.0/24`, `2001:db8::/32`, or a bare
    /// address for itself alone), refusing under `field`.
    pub fn parse(values: &[String], field: &str, violations: &mut Vec<FieldViolation>) -> Self {
        if values.len() > MAX_SOURCE_RANGES {
            violations.refuse(
                field,
                format!("lists {} ranges; at most {MAX_SOURCE_RANGES}", values.len()),
            );
            return Self::default();
        }
        let mut ranges = Vec::with_capacity(values.len());
        for (index, value) in values.iter().enumerate() {
            match parse_range(value.trim()) {
                Ok(range) if !ranges.contains(&range) => ranges.push(range),
                Ok(_) => violations.refuse(format!("{field}[{index}]"), "repeats a range"),
                Err(message) => violations.refuse(format!("{field}[{index}]"), message),
            }
        }
        Self(ranges)
    }

    /// Ranges read back from storage, already validated when written.
    pub fn from_stored(values: Vec<String>) -> Option<Self> {
        values
            .iter()
            .map(|value| value.parse().ok())
            .collect::<Option<Vec<IpNet>>>()
            .map(Self)
    }

    /// Whether a call from `address` may proceed: always when no range is
    /// listed. An IPv4 address mapped into IPv6 (`::ffff:a.b.c.d`, what a
    /// dual-stack listener reports) counts as the IPv4 address.
    pub fn allows(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.0.is_empty() || self.0.iter().any(|range| range.contains(&address))
    }

    /// Whether every address is allowed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The ranges in CIDR notation.
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }
}

/// One range: CIDR notation without host bits, or a bare address.
fn parse_range(value: &str) -> Result<IpNet, String> {
    if let Ok(address) = value.parse::<IpAddr>() {
        return Ok(IpNet::from(address.to_canonical()));
    }
    let range: IpNet = value.parse().map_err(|_| {
        format!("{value:?} is not a CIDR range such as 203.0.113.0/24 or 2001:db8::/32")
    })?;
    if range.trunc() != range {
        return Err(format!(
            "{value:?} has bits set past its prefix; the range is {}",
            range.trunc()
        ));
    }
    Ok(range)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(values: &[&str]) -> (SourceRanges, Vec<FieldViolation>) {
        let values: Vec<String> = values.iter().map(|value| (*value).to_owned()).collect();
        let mut violations = Vec::new();
        let parsed = SourceRanges::parse(&values, "ranges", &mut violations);
        (parsed, violations)
    }

    #[test]
    fn addresses_inside_a_range_are_allowed_and_others_not() {
        let (allowed, violations) = ranges(&["10.1.0.0/16", "2001:db8::/32", "192.0.2.7"]);
        assert!(violations.is_empty());
        for inside in ["10.1.2.3", "2001:db8::1", "192.0.2.7", "::ffff:10.1.9.9"] {
            assert!(allowed.allows(inside.parse().unwrap()), "{inside}");
        }
        for outside in ["10.2.0.1", "2001:db9::1", "192.0.2.8", "::1"] {
            assert!(!allowed.allows(outside.parse().unwrap()), "{outside}");
        }
        assert!(SourceRanges::default().allows("198.51.100.1".parse().unwrap()));
    }

    #[test]
    fn malformed_and_sloppy_ranges_are_refused_naming_their_index() {
        let (_, violations) = ranges(&["10.0.0.0/8", "10.0.0.5/24", "nope", "10.0.0.0/8"]);
        let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["ranges[1]", "ranges[2]", "ranges[3]"]);
        assert!(violations[0].description.contains("10.0.0.0/24"));
    }

    #[test]
    fn stored_ranges_read_back() {
        let (allowed, _) = ranges(&["10.1.0.0/16", "2001:db8::/32"]);
        assert_eq!(
            SourceRanges::from_stored(allowed.to_strings()),
            Some(allowed)
        );
    }
}
