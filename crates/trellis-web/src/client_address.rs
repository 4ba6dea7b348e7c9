//! The client's address behind reverse proxies: which `X-Forwarded-For` entry to believe.
//!
//! Each proxy *appends* the address it received the request from, so only the rightmost entries
//! were written by proxies we run; everything to their left is whatever the client sent. The
//! address of a request is therefore found counting from the right (issue 6, F4):
//!
//! - [`TrustedProxies::Hops`]`(n)`: `n` proxies stand in front of Trellis (the peer is the
//!   nearest); the client is the `n`-th entry from the right. A chain shorter than that came
//!   through fewer proxies; its leftmost entry is then what the outermost of them saw.
//! - [`TrustedProxies::Networks`]: the peer and every entry from the right that lies in one of
//!   these networks is a proxy of ours; the first address outside them is the client's. A peer
//!   outside them is the client itself (the header is not looked at).
//!
//! The chosen entry must parse as an IP address (`198.51.100.7`, `2001:db8::1`, and the
//! `198.51.100.7:4711`, `[2001:db8::1]:4711` and `[2001:db8::1]` forms some proxies write); if it
//! does not (garbage, a name, an empty entry, a header that is not visible ASCII), the header is
//! ignored and the peer's address is used. The result is always a parsed address, so nothing a
//! client writes reaches the audit trail or the rate limits as text. At most
//! [`MAX_EXAMINED_ENTRIES`] entries are looked at, from the right, however long the header is.
//!
//! This module owns only the choice of address; whether to trust the header at all is
//! `WebConfig::trust_forwarded_for`, and `meta::record_request_meta` records the result.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::http::HeaderMap;

/// The most `X-Forwarded-For` entries examined, counting from the right. Chains of real proxies
/// are a handful long; anything longer is a client padding the header.
pub const MAX_EXAMINED_ENTRIES: usize = 32;

/// An IP network in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`, or one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyNetwork {
    base: IpAddr,
    prefix: u8,
}

impl ProxyNetwork {
    /// Whether `address` lies in this network (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.base, address.to_canonical()) {
            (IpAddr::V4(base), IpAddr::V4(address)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(base) & mask == u32::from(address) & mask
            }
            (IpAddr::V6(base), IpAddr::V6(address)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(base) & mask == u128::from(address) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for ProxyNetwork {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let base = IpAddr::from_str(address).map_err(|_| format!("{text:?} is not an IP address or CIDR network"))?.to_canonical();
        let max = if base.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(prefix) => {
                prefix.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {max}"))?
            }
        };
        Ok(Self { base, prefix })
    }
}

impl std::fmt::Display for ProxyNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

/// Which proxies' `X-Forwarded-For` entries to believe (used only when forwarding is trusted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustedProxies {
    /// This many proxies (at least 1) stand in front of Trellis.
    Hops(usize),
    /// The proxies are the addresses in these networks.
    Networks(Vec<ProxyNetwork>),
}

impl Default for TrustedProxies {
    /// One reverse proxy in front of Trellis.
    fn default() -> Self {
        TrustedProxies::Hops(1)
    }
}

/// Parses one `X-Forwarded-For` entry: an IP address, optionally `v4:port`, `[v6]` or
/// `[v6]:port`. IPv4-mapped IPv6 addresses become IPv4.
pub fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    let address = IpAddr::from_str(entry)
        .ok()
        .or_else(|| SocketAddr::from_str(entry).ok().map(|s| s.ip()))
        .or_else(|| entry.strip_prefix('[')?.strip_suffix(']').and_then(|v6| v6.parse::<std::net::Ipv6Addr>().ok()).map(IpAddr::V6))?;
    Some(address.to_canonical())
}

/// The `X-Forwarded-For` entries from the right (the nearest proxy's first), at most
/// [`MAX_EXAMINED_ENTRIES`]; an entry that is not an address is `None`. Several header lines
/// count as one list in their order (RFC 9110 §5.3).
fn entries_from_the_right(headers: &HeaderMap) -> impl Iterator<Item = Option<IpAddr>> + '_ {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .rev()
        // A line that is not visible ASCII reads as one empty, unusable entry, which ends the walk.
        .flat_map(|value| value.to_str().unwrap_or("").rsplit(',').map(parse_entry))
        .take(MAX_EXAMINED_ENTRIES)
}

/// The client's address: `peer` (the connection's) unless the trusted proxies' part of
/// `X-Forwarded-For` names another one (module documentation).
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    let peer = peer.to_canonical();
    match trusted {
        TrustedProxies::Hops(0) => peer,
        TrustedProxies::Hops(hops) => {
            let mut chosen = None;
            for (position, entry) in entries_from_the_right(headers).enumerate() {
                let Some(address) = entry else { return peer };
                chosen = Some(address);
                if position + 1 >= *hops {
                    break;
                }
            }
            chosen.unwrap_or(peer)
        }
        TrustedProxies::Networks(networks) => {
            let trusted = |address: IpAddr| networks.iter().any(|n| n.contains(address));
            if !trusted(peer) {
                return peer;
            }
            let mut last = peer;
            for entry in entries_from_the_right(headers) {
                let Some(address) = entry else { return peer };
                if !trusted(address) {
                    return address;
                }
                last = address;
            }
            // Proxies all the way (or padding past the examined entries): the leftmost seen.
            last
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    const PEER: &str = "10.0.0.2";

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append("x-forwarded-for", HeaderValue::from_str(value).expect("header value"));
        }
        map
    }

    fn address(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    fn hops(n: usize, values: &[&str]) -> IpAddr {
        client_address(address(PEER), &headers(values), &TrustedProxies::Hops(n))
    }

    fn networks(list: &[&str], peer: &str, values: &[&str]) -> IpAddr {
        let networks = list.iter().map(|n| n.parse().expect("network")).collect();
        client_address(address(peer), &headers(values), &TrustedProxies::Networks(networks))
    }

    #[test]
    fn one_hop_takes_the_entry_the_proxy_appended_not_the_one_the_client_wrote() {
        assert_eq!(hops(1, &["203.0.113.66, 198.51.100.7"]), address("198.51.100.7"));
        assert_eq!(hops(1, &["198.51.100.7"]), address("198.51.100.7"));
        assert_eq!(hops(1, &["203.0.113.66", "198.51.100.7"]), address("198.51.100.7"), "a second header line is appended");
    }

    #[test]
    fn two_hops_take_the_second_entry_from_the_right_and_a_short_chain_its_leftmost() {
        assert_eq!(hops(2, &["203.0.113.66, 198.51.100.7, 192.0.2.1"]), address("198.51.100.7"));
        assert_eq!(hops(2, &["198.51.100.7"]), address("198.51.100.7"));
    }

    #[test]
    fn without_the_header_or_with_garbage_where_the_address_should_be_the_peer_is_used() {
        assert_eq!(hops(1, &[]), address(PEER));
        for garbage in ["not-an-address", "", " , ", "198.51.100.7 and more", "unknown", "fe80::1%eth0", "999.1.1.1"] {
            assert_eq!(hops(1, &[garbage]), address(PEER), "{garbage:?}");
        }
        assert_eq!(hops(2, &["198.51.100.7, garbage"]), address(PEER), "garbage among the proxies' entries");
        assert_eq!(hops(1, &["198.51.100.7, garbage"]), address(PEER));
        assert_eq!(hops(1, &["garbage, 198.51.100.7"]), address("198.51.100.7"), "the client's own text is never looked at");
    }

    #[test]
    fn a_huge_header_is_read_from_the_right_and_never_used_as_text() {
        let padding = "x".repeat(10 * 1024);
        assert_eq!(hops(1, &[&padding]), address(PEER));
        assert_eq!(hops(1, &[&format!("{padding}, 198.51.100.7")]), address("198.51.100.7"));
        let many = vec!["10.1.1.1"; 10_000].join(",");
        assert_eq!(networks(&["10.0.0.0/8"], PEER, &[&many]), address("10.1.1.1"), "bounded walk through proxies only");
    }

    #[test]
    fn the_forms_proxies_write_with_ports_and_brackets_parse() {
        assert_eq!(parse_entry("198.51.100.7:4711"), Some(address("198.51.100.7")));
        assert_eq!(parse_entry("[2001:db8::1]:4711"), Some(address("2001:db8::1")));
        assert_eq!(parse_entry("[2001:db8::1]"), Some(address("2001:db8::1")));
        assert_eq!(parse_entry(" 2001:db8::1 "), Some(address("2001:db8::1")));
        assert_eq!(parse_entry("::ffff:198.51.100.7"), Some(address("198.51.100.7")), "IPv4-mapped becomes IPv4");
        assert_eq!(parse_entry("2001:db8::1:4711"), Some(address("2001:db8::1:4711")), "without brackets it is all address");
        assert_eq!(parse_entry("[198.51.100.7]"), None);
        assert_eq!(parse_entry("198.51.100.7:port"), None);
    }

    #[test]
    fn trusted_networks_skip_our_proxies_from_the_right() {
        let ours = ["10.0.0.0/8", "2001:db8:ffff::/48"];
        assert_eq!(networks(&ours, PEER, &["203.0.113.66, 198.51.100.7, 10.9.9.9"]), address("198.51.100.7"));
        assert_eq!(networks(&ours, "2001:db8:ffff::5", &["198.51.100.7"]), address("198.51.100.7"));
        assert_eq!(networks(&ours, PEER, &["10.1.1.1, 10.2.2.2"]), address("10.1.1.1"), "only proxies: the leftmost");
        assert_eq!(networks(&ours, PEER, &[]), address(PEER));
        assert_eq!(networks(&ours, PEER, &["garbage, 10.9.9.9"]), address(PEER));
    }

    #[test]
    fn a_peer_outside_the_trusted_networks_is_the_client_whatever_it_sends() {
        assert_eq!(networks(&["10.0.0.0/8"], "198.51.100.9", &["203.0.113.66"]), address("198.51.100.9"));
    }

    #[test]
    fn networks_parse_and_contain() {
        let net: ProxyNetwork = "10.0.0.0/8".parse().expect("parses");
        assert!(net.contains(address("10.255.0.1")) && !net.contains(address("11.0.0.1")));
        assert!(net.contains(address("::ffff:10.0.0.1")));
        let one: ProxyNetwork = "192.0.2.1".parse().expect("one address");
        assert!(one.contains(address("192.0.2.1")) && !one.contains(address("192.0.2.2")));
        let all: ProxyNetwork = "0.0.0.0/0".parse().expect("everything");
        assert!(all.contains(address("203.0.113.1")) && !all.contains(address("2001:db8::1")));
        let v6: ProxyNetwork = "2001:db8::/32".parse().expect("v6");
        assert!(v6.contains(address("2001:db8:1::1")) && !v6.contains(address("2001:db9::1")));
        assert_eq!(v6.to_string(), "2001:db8::/32");
        for bad in ["10.0.0.0/33", "2001:db8::/129", "ten/8", "10.0.0.0/", "", "10.0.0.0/-1"] {
            assert!(bad.parse::<ProxyNetwork>().is_err(), "{bad:?}");
        }
    }
}
