//! Where a call comes from: the connection's peer, or, when the peer is a
//! trusted proxy, the address the proxies forwarded in `x-forwarded-for`.
//!
//! The forwarded list is read from the right: each trusted proxy appends
//! the address it was called from, so the first address from the right
//! that is not a trusted proxy is the caller's. Whatever a caller writes
//! itself sits to the left of that and is never read. An entry that is not
//! an address, or a list that runs out while every hop is trusted, gives
//! no source address at all: a tenant with an allowlist is then refused
//! rather than matched against a proxy's own address.

use std::net::{IpAddr, SocketAddr};

use http::HeaderMap;
use ipnet::IpNet;

/// The `x-forwarded-for` header.
pub const FORWARDED_FOR_HEADER: &str = "x-forwarded-for";

/// The proxies whose `x-forwarded-for` entries are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Trusts peers inside `ranges`; none when empty.
    pub fn new(ranges: Vec<IpNet>) -> Self {
        Self(ranges)
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|range| range.contains(&address))
    }

    /// The source address of a call from `peer` carrying `headers`; `None`
    /// when it cannot be told.
    pub fn source(&self, peer: Option<IpAddr>, headers: Option<&HeaderMap>) -> Option<IpAddr> {
        let mut source = peer?.to_canonical();
        if !self.trusts(source) {
            return Some(source);
        }
        let Some(headers) = headers else {
            return Some(source);
        };
        let lines: Vec<&str> = headers
            .get_all(FORWARDED_FOR_HEADER)
            .iter()
            .map(|line| line.to_str().ok())
            .collect::<Option<_>>()?;
        for entry in lines.iter().rev().flat_map(|line| line.rsplit(',')) {
            source = parse_entry(entry.trim())?;
            if !self.trusts(source) {
                return Some(source);
            }
        }
        // Every hop was a trusted proxy: the innermost one called itself.
        lines.is_empty().then_some(source)
    }
}

/// `203.0.113.7`, `203.0.113.7:443`, `2001:db8::1` or `[2001:db8::1]:443`.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|socket| socket.ip()))
        .ok()
        .map(|address| address.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies() -> TrustedProxies {
        TrustedProxies::new(vec!["10.0.0.0/8".parse().unwrap()])
    }

    fn forwarded(lines: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(FORWARDED_FOR_HEADER, line.parse().unwrap());
        }
        headers
    }

    fn source(peer: &str, lines: &[&str]) -> Option<String> {
        let headers = forwarded(lines);
        proxies()
            .source(Some(peer.parse().unwrap()), Some(&headers))
            .map(|address| address.to_string())
    }

    #[test]
    fn an_untrusted_peer_is_the_source_whatever_it_forwards() {
        assert_eq!(
            source("198.51.100.9", &["203.0.113.1"]).as_deref(),
            Some("198.51.100.9")
        );
    }

    #[test]
    fn the_first_untrusted_hop_from_the_right_is_the_source() {
        let lines = ["192.0.2.66, 203.0.113.7, 10.0.0.2", "10.0.0.3"];
        assert_eq!(source("10.0.0.4", &lines).as_deref(), Some("203.0.113.7"));
        assert_eq!(
            source("10.0.0.4", &["[2001:db8::7]:443"]).as_deref(),
            Some("2001:db8::7")
        );
        assert_eq!(source("10.0.0.4", &[]).as_deref(), Some("10.0.0.4"));
    }

    #[test]
    fn garbage_or_an_all_trusted_list_gives_no_source() {
        assert_eq!(source("10.0.0.4", &["203.0.113.7, nonsense"]), None);
        assert_eq!(source("10.0.0.4", &["10.0.0.1"]), None);
        assert_eq!(TrustedProxies::default().source(None, None), None);
    }
}
