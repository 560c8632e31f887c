//! The client's address behind reverse proxies, for login throttling.
//!
//! A request's address is its TCP peer unless that peer is one of `trusted_proxies` (CIDRs in
//! `enlace-hub.toml`); then it is read from `Forwarded` (RFC 7239, preferred) or
//! `X-Forwarded-For`, walking the list from the right and taking the first address that is not
//! itself a trusted proxy. Anything a client could have written (entries left of the last
//! trusted hop) is never believed; malformed or obfuscated entries fall back to the peer.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use axum::http::HeaderMap;

/// Most list entries examined per request (the headers are untrusted input).
const MAX_HOPS: usize = 32;

/// An address block such as `10.0.0.0/8` or `::1/128` (a bare address is a /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Cidr, String> {
        let bad = || format!("{text:?} is not an address block such as 10.0.0.0/8 or ::1/128");
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text.trim(), None),
        };
        let network = IpAddr::from_str(addr).map_err(|_| bad())?.to_canonical();
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().map_err(|_| bad())?
            }
            Some(_) => return Err(bad()),
            None => max,
        };
        if prefix > max {
            return Err(bad());
        }
        Ok(Cidr { network, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

fn trusted(ip: IpAddr, proxies: &[Cidr]) -> bool {
    proxies.iter().any(|c| c.contains(ip))
}

/// The address requests from `peer` are throttled under.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, proxies: &[Cidr]) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted(peer, proxies) {
        return peer;
    }
    let hops = if headers.contains_key("forwarded") {
        forwarded_hops(headers)
    } else {
        x_forwarded_for_hops(headers)
    };
    let Some(hops) = hops else {
        return peer;
    };
    let mut leftmost = peer;
    for hop in hops.into_iter().rev().take(MAX_HOPS) {
        let Some(ip) = hop else {
            // Unknown, obfuscated or garbage: nothing right of here can be trusted further.
            return peer;
        };
        let ip = ip.to_canonical();
        if !trusted(ip, proxies) {
            return ip;
        }
        leftmost = ip;
    }
    leftmost
}

/// Every value of `name`, joined as one comma-separated list; `None` if a value is not text.
fn joined(headers: &HeaderMap, name: &str) -> Option<String> {
    let mut out = String::new();
    for value in headers.get_all(name) {
        let text = value.to_str().ok()?;
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(text);
    }
    Some(out)
}

/// `X-Forwarded-For: client, proxy1, proxy2`, oldest first; `None` without the header.
fn x_forwarded_for_hops(headers: &HeaderMap) -> Option<Vec<Option<IpAddr>>> {
    if !headers.contains_key("x-forwarded-for") {
        return None;
    }
    let list = joined(headers, "x-forwarded-for")?;
    Some(list.split(',').map(parse_node).collect())
}

/// `Forwarded: for=192.0.2.60;proto=https, for="[2001:db8::17]:4711"`, oldest first.
fn forwarded_hops(headers: &HeaderMap) -> Option<Vec<Option<IpAddr>>> {
    let list = joined(headers, "forwarded")?;
    Some(
        list.split(',')
            .map(|element| {
                element.split(';').find_map(|pair| {
                    let (key, value) = pair.split_once('=')?;
                    key.trim()
                        .eq_ignore_ascii_case("for")
                        .then(|| value.trim().trim_matches('"').to_owned())
                })
            })
            .map(|node| node.and_then(|n| parse_node(&n)))
            .collect(),
    )
}

/// `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:4711`.
fn parse_node(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    if let Ok(ip) = IpAddr::from_str(text) {
        return Some(ip);
    }
    if let Some(rest) = text.strip_prefix('[') {
        let (ip, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        return IpAddr::from_str(ip).ok().filter(IpAddr::is_ipv6);
    }
    let (ip, port) = text.split_once(':')?;
    if !is_port(port) {
        return None;
    }
    IpAddr::from_str(ip).ok().filter(IpAddr::is_ipv4)
}

fn is_port(text: &str) -> bool {
    !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    fn cidrs(list: &[&str]) -> Vec<Cidr> {
        list.iter().map(|c| c.parse().expect("cidr")).collect()
    }

    fn headers(pairs: &[(&'static str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_bytes(value).expect("header value"));
        }
        map
    }

    #[test]
    fn blocks_parse_and_contain() {
        let c: Cidr = "10.0.0.0/8".parse().expect("cidr");
        assert!(c.contains(ip("10.200.3.4")));
        assert!(!c.contains(ip("11.0.0.1")));
        assert!(c.contains(ip("::ffff:10.1.2.3")), "IPv4-mapped IPv6");
        let c: Cidr = "::1/128".parse().expect("cidr");
        assert!(c.contains(ip("::1")) && !c.contains(ip("::2")));
        let any: Cidr = "0.0.0.0/0".parse().expect("cidr");
        assert!(any.contains(ip("203.0.113.9")) && !any.contains(ip("::1")));
        assert_eq!(
            "192.0.2.7".parse::<Cidr>().expect("bare"),
            "192.0.2.7/32".parse().expect("cidr")
        );
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "host/8",
            "10.0.0.0/8/8",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_peers() {
        let proxies = cidrs(&["127.0.0.1/32", "10.0.0.0/8"]);
        // (TCP peer, request headers, client address the hub believes)
        type Case<'a> = (&'a str, &'a [(&'static str, &'a [u8])], &'a str);
        let table: &[Case] = &[
            // Untrusted peer: headers ignored.
            (
                "198.51.100.1",
                &[("x-forwarded-for", b"203.0.113.5")],
                "198.51.100.1",
            ),
            // Trusted peer, no header: the peer.
            ("127.0.0.1", &[], "127.0.0.1"),
            (
                "127.0.0.1",
                &[("x-forwarded-for", b"203.0.113.5")],
                "203.0.113.5",
            ),
            // A client's own forged entry sits left of what the proxy appended.
            (
                "127.0.0.1",
                &[("x-forwarded-for", b"1.1.1.1, 203.0.113.5")],
                "203.0.113.5",
            ),
            // Chains of trusted proxies are skipped from the right.
            (
                "127.0.0.1",
                &[("x-forwarded-for", b"203.0.113.5, 10.0.0.2, 10.0.0.3")],
                "203.0.113.5",
            ),
            (
                "127.0.0.1",
                &[
                    ("x-forwarded-for", b"203.0.113.5"),
                    ("x-forwarded-for", b"10.0.0.2"),
                ],
                "203.0.113.5",
            ),
            (
                "127.0.0.1",
                &[("x-forwarded-for", b"203.0.113.5:4711")],
                "203.0.113.5",
            ),
            (
                "127.0.0.1",
                &[("x-forwarded-for", b"[2001:db8::5]:4711")],
                "2001:db8::5",
            ),
            // Everything trusted: the oldest hop.
            (
                "127.0.0.1",
                &[("x-forwarded-for", b"10.0.0.9, 10.0.0.2")],
                "10.0.0.9",
            ),
            // Malformed: the peer.
            (
                "127.0.0.1",
                &[("x-forwarded-for", b"not an address")],
                "127.0.0.1",
            ),
            ("127.0.0.1", &[("x-forwarded-for", b"")], "127.0.0.1"),
            ("127.0.0.1", &[("x-forwarded-for", b",,,")], "127.0.0.1"),
            (
                "127.0.0.1",
                &[("x-forwarded-for", b"203.0.113.5, junk")],
                "127.0.0.1",
            ),
            (
                "127.0.0.1",
                &[("x-forwarded-for", b"\xff\xfe")],
                "127.0.0.1",
            ),
            ("127.0.0.1", &[("x-forwarded-for", b"[::1")], "127.0.0.1"),
            (
                "127.0.0.1",
                &[("x-forwarded-for", b"1.2.3.4:99999999")],
                "127.0.0.1",
            ),
            // RFC 7239, preferred over X-Forwarded-For.
            (
                "127.0.0.1",
                &[
                    ("forwarded", b"for=203.0.113.7;proto=https"),
                    ("x-forwarded-for", b"203.0.113.5"),
                ],
                "203.0.113.7",
            ),
            (
                "127.0.0.1",
                &[(
                    "forwarded",
                    b"for=1.1.1.1, For=\"[2001:db8:cafe::17]:4711\"",
                )],
                "2001:db8:cafe::17",
            ),
            (
                "127.0.0.1",
                &[("forwarded", b"for=203.0.113.7, for=10.0.0.4;by=10.0.0.5")],
                "203.0.113.7",
            ),
            ("127.0.0.1", &[("forwarded", b"for=unknown")], "127.0.0.1"),
            ("127.0.0.1", &[("forwarded", b"for=_hidden")], "127.0.0.1"),
            ("127.0.0.1", &[("forwarded", b"proto=https")], "127.0.0.1"),
            ("127.0.0.1", &[("forwarded", b"for")], "127.0.0.1"),
            // A mapped peer address counts as its IPv4 address.
            (
                "::ffff:127.0.0.1",
                &[("x-forwarded-for", b"203.0.113.5")],
                "203.0.113.5",
            ),
        ];
        for (peer, pairs, expected) in table {
            assert_eq!(
                client_address(ip(peer), &headers(pairs), &proxies),
                ip(expected),
                "peer {peer} headers {pairs:?}"
            );
        }
        let long = vec!["10.0.0.1"; 10_000].join(",");
        let _ = client_address(
            ip("127.0.0.1"),
            &headers(&[("x-forwarded-for", long.as_bytes())]),
            &proxies,
        );
    }
}
