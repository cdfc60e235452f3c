//! Semantic versions (https://semver.org 2.0.0) as targeting conditions
//! compare them: precedence only, so build metadata is ignored and a
//! leading `v` is accepted.

use std::cmp::Ordering;

/// One dot-separated pre-release identifier, compared as the
/// specification says: digits only numerically, others in ASCII order,
/// numeric ones lower than the others.
fn compare_identifiers(left: &str, right: &str) -> Ordering {
    let numeric = |text: &str| text.bytes().all(|b| b.is_ascii_digit());
    match (numeric(left), numeric(right)) {
        // Canonical numbers (no leading zeros): the longer is the greater.
        (true, true) => left.len().cmp(&right.len()).then_with(|| left.cmp(right)),
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => left.cmp(right),
    }
}

/// A parsed version, ordered by semver precedence. It borrows the text it
/// was parsed from, so parsing on the evaluation path allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SemVer<'a> {
    /// Major, minor, patch.
    core: [u64; 3],
    /// The pre-release identifiers, dot-separated; empty for a release.
    pre: &'a str,
}

fn number(text: &str) -> Option<u64> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    // Leading zeros are not allowed in numeric parts.
    let canonical = text == "0" || !text.starts_with('0');
    (digits && canonical).then(|| text.parse().ok()).flatten()
}

fn identifier_ok(text: &str) -> bool {
    let well_formed =
        !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let numeric = text.bytes().all(|b| b.is_ascii_digit());
    well_formed && (!numeric || text == "0" || !text.starts_with('0'))
}

impl<'a> SemVer<'a> {
    /// Parses `1.2.3`, `v1.2.3-rc.1+build.5`; `None` for anything else.
    pub fn parse(text: &'a str) -> Option<Self> {
        let text = text.strip_prefix('v').unwrap_or(text);
        let (text, build) = match text.split_once('+') {
            Some((version, build)) => (version, Some(build)),
            None => (text, None),
        };
        if let Some(build) = build
            && build.split('.').any(|part| {
                part.is_empty() || !part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
        {
            return None;
        }
        let (core, pre) = match text.split_once('-') {
            Some((core, pre)) => (core, Some(pre)),
            None => (text, None),
        };
        let mut parts = core.split('.');
        let mut numbers = [0u64; 3];
        for slot in &mut numbers {
            *slot = number(parts.next()?)?;
        }
        if parts.next().is_some() {
            return None;
        }
        let pre = match pre {
            Some(pre) if pre.split('.').all(identifier_ok) => pre,
            Some(_) => return None,
            None => "",
        };
        Some(Self { core: numbers, pre })
    }
}

/// A version parsed once and kept, as a condition's value is: evaluation
/// then parses only the context's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Major, minor, patch.
    core: [u64; 3],
    /// The pre-release identifiers; empty for a release.
    pre: Box<str>,
}

impl Version {
    /// As [`SemVer::parse`].
    pub fn parse(text: &str) -> Option<Self> {
        SemVer::parse(text).map(|version| Self {
            core: version.core,
            pre: version.pre.into(),
        })
    }

    /// The version to compare with.
    pub fn as_semver(&self) -> SemVer<'_> {
        SemVer {
            core: self.core,
            pre: &self.pre,
        }
    }
}

impl Ord for SemVer<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.core.cmp(&other.core).then_with(|| {
            match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                // A pre-release comes before its release.
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => {
                    let mut left = self.pre.split('.');
                    let mut right = other.pre.split('.');
                    loop {
                        match (left.next(), right.next()) {
                            (None, None) => return Ordering::Equal,
                            (None, Some(_)) => return Ordering::Less,
                            (Some(_), None) => return Ordering::Greater,
                            (Some(a), Some(b)) => match compare_identifiers(a, b) {
                                Ordering::Equal => {}
                                decided => return decided,
                            },
                        }
                    }
                }
            }
        })
    }
}

impl PartialOrd for SemVer<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> SemVer<'_> {
        SemVer::parse(text).unwrap_or_else(|| panic!("{text} parses"))
    }

    #[test]
    fn a_kept_version_compares_as_the_text_it_came_from() {
        for text in ["1.2.3", "v1.2.3-rc.1+build.5", "0.0.1-alpha.beta.11"] {
            let kept = Version::parse(text).unwrap_or_else(|| panic!("{text} parses"));
            assert_eq!(kept.as_semver(), v(text));
        }
        assert_eq!(Version::parse("1.2"), None);
    }

    #[test]
    fn a_conditions_parsed_version_takes_no_part_in_its_equality() {
        use crate::flags::flag::{Condition, Operator};
        let condition = |version: &str| {
            Condition::new(
                "app_version".to_owned(),
                Operator::SemverLt,
                vec![serde_json::json!(version)],
            )
        };
        let (fresh, used) = (condition("2.10.0"), condition("2.10.0"));
        assert_eq!(used.version().map(Version::as_semver), Some(v("2.10.0")));
        assert_eq!(fresh, used);
        assert_ne!(fresh, condition("2.11.0"));
    }

    #[test]
    fn precedence_follows_the_specification() {
        // The example chain of semver.org, section 11.
        let chain = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "2.0.0",
            "2.1.0",
            "2.1.1",
        ];
        for pair in chain.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        assert_eq!(v("v1.2.3+build.7"), v("1.2.3"));
        assert!(v("1.10.0") > v("1.9.0"));
    }

    #[test]
    fn malformed_versions_do_not_parse() {
        for bad in [
            "",
            "1",
            "1.2",
            "1.2.3.4",
            "01.2.3",
            "1.2.x",
            "1.2.3-",
            "1.2.3-a..b",
            "1.2.3+",
            "latest",
        ] {
            assert!(SemVer::parse(bad).is_none(), "{bad}");
        }
    }
}
