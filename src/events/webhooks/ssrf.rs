//! Which addresses webhooks may be posted to: public ones, and those an
//! operator allows. Checked when an endpoint is created (its URL, and the
//! addresses its host resolves to) and again at every delivery on the
//! addresses actually connected to ([`TargetPolicy::resolver`]), so a name
//! that later resolves elsewhere (DNS rebinding) reaches nothing private.
//!
//! Invariant: a non-public address is reached only when the operator's
//! allowance covers it; an IPv4 address mapped into IPv6 is judged as the
//! IPv4 address it is.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;

use crate::error::{Error, Result};

/// Ranges that are not the public internet: private, loopback, link-local
/// (169.254.169.254, cloud metadata, among them), shared, unique-local,
/// unspecified, multicast, documentation, benchmarking, reserved,
/// translation and tunnel prefixes.
const NON_PUBLIC: &[&str] = &[
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.88.99.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::/128",
    "::1/128",
    "64:ff9b::/96",
    "64:ff9b:1::/48",
    "100::/64",
    "2001::/23",
    "2001:db8::/32",
    "2002::/16",
    "fc00::/7",
    "fe80::/10",
    "fec0::/10",
    "ff00::/8",
];

/// Where webhooks may go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetPolicy {
    /// Every address is allowed (`--webhook-allow-private-targets`).
    pub allow_private: bool,
    /// Non-public ranges allowed all the same (`--webhook-allowed-cidrs`).
    pub allowed: Vec<IpNet>,
}

/// The address as itself: an IPv4-mapped IPv6 address as its IPv4.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Whether `address` is on the public internet.
pub fn is_public(address: IpAddr) -> bool {
    let address = canonical(address);
    !NON_PUBLIC
        .iter()
        .filter_map(|range| range.parse::<IpNet>().ok())
        .any(|range| range.contains(&address))
}

impl TargetPolicy {
    /// Whether a webhook may be posted to `address`.
    pub fn admits(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.allow_private
            || is_public(address)
            || self.allowed.iter().any(|range| range.contains(&address))
    }

    /// `Ok` when `address` is admitted; the refusal, saying why, otherwise.
    pub fn check(&self, address: IpAddr, field: &str) -> Result<()> {
        if self.admits(address) {
            return Ok(());
        }
        Err(Error::invalid_field(
            field,
            format!(
                "targets {address}, which is not a public address (private, loopback, link-local, unique-local, unspecified or reserved) and the server does not allow it"
            ),
        ))
    }

    /// Every address `host` resolves to, each checked; an IP literal is
    /// checked as it is.
    pub async fn resolve(&self, host: &str, port: u16, field: &str) -> Result<Vec<SocketAddr>> {
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(address) = literal.parse::<IpAddr>() {
            self.check(address, field)?;
            return Ok(vec![SocketAddr::new(address, port)]);
        }
        let found: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|error| {
                Error::invalid_field(field, format!("has a host that does not resolve: {error}"))
            })?
            .collect();
        if found.is_empty() {
            return Err(Error::invalid_field(
                field,
                "has a host that resolves to no address",
            ));
        }
        for address in &found {
            self.check(address.ip(), field)?;
        }
        Ok(found)
    }

    /// The resolver of the delivery client: resolves as the system does and
    /// refuses a name with any address this policy does not admit.
    pub fn resolver(self) -> Arc<CheckedResolver> {
        Arc::new(CheckedResolver { policy: self })
    }
}

/// A resolver that lets through only admitted addresses.
pub struct CheckedResolver {
    /// What is admitted.
    policy: TargetPolicy,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found = policy
                .resolve(&host, 0, "url")
                .await
                .map_err(|error| Box::new(error) as Box<dyn std::error::Error + Send + Sync>)?;
            let addresses: reqwest::dns::Addrs = Box::new(found.into_iter());
            Ok(addresses)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn non_public_targets_are_refused_and_public_ones_admitted() {
        let policy = TargetPolicy::default();
        for refused in [
            "169.254.169.254",
            "127.0.0.1",
            "10.1.2.3",
            "172.20.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "224.0.0.1",
            "255.255.255.255",
        ] {
            assert!(!policy.admits(ip(refused)), "{refused} admitted");
        }
        for admitted in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(policy.admits(ip(admitted)), "{admitted} refused");
        }
    }

    #[test]
    fn the_operator_allowance_opens_exactly_what_it_names() {
        let policy = TargetPolicy {
            allow_private: false,
            allowed: vec!["127.0.0.1/32".parse().unwrap()],
        };
        assert!(policy.admits(ip("127.0.0.1")));
        assert!(policy.admits(ip("::ffff:127.0.0.1")));
        assert!(!policy.admits(ip("127.0.0.2")));
        assert!(!policy.admits(ip("::1")));
        let open = TargetPolicy {
            allow_private: true,
            allowed: Vec::new(),
        };
        assert!(open.admits(ip("169.254.169.254")));
    }
}
