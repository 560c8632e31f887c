//! Fuzz what the hub reads from a request before any database or PBX work: the JSON bodies of
//! `POST /sessions`, `POST /me/state` and `POST /calls` (with the dialable-number check), the
//! query strings of `GET /me/day` and `GET /stream`, and the client address behind trusted
//! proxies (`Forwarded` / `X-Forwarded-For`, `enlace_hub::forwarded`). The hub ignores the
//! content of WebSocket messages from clients (any message only counts as a heartbeat), so
//! there is no client-message parser to fuzz.
//!
//! Input: the first byte picks the route; the rest is the body, the query or the headers.
//! Properties: no panic; a number accepted for dialing is digits, `*`, `#` with an optional
//! leading `+`; the client address is the peer or an address named in the headers, and the
//! peer itself when the peer is not a trusted proxy.
#![no_main]

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use enlace_hub::api::fuzzing;
use enlace_hub::forwarded::{client_address, Cidr};
use libfuzzer_sys::fuzz_target;

fn addresses(data: &[u8]) {
    // Line 1: trusted proxies (comma-separated CIDRs); then `name: value` header lines.
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let proxies: Vec<Cidr> = lines
        .next()
        .unwrap_or_default()
        .split(',')
        .filter_map(|c| c.parse().ok())
        .collect();
    for cidr in &proxies {
        // What the configuration shows reads back the same.
        assert_eq!(cidr.to_string().parse::<Cidr>().as_ref(), Ok(cidr));
    }
    let mut headers = HeaderMap::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.trim().as_bytes()),
            HeaderValue::from_bytes(value.trim().as_bytes()),
        ) else {
            continue;
        };
        headers.append(name, value);
    }
    for peer in ["10.0.0.1", "203.0.113.9", "::1", "::ffff:10.0.0.2"] {
        let peer: IpAddr = peer.parse().expect("peer");
        let got = client_address(peer, &headers, &proxies);
        if !proxies.iter().any(|c| c.contains(peer.to_canonical())) {
            assert_eq!(got, peer.to_canonical());
        } else if got != peer.to_canonical() {
            assert!(
                named(&headers).contains(&got),
                "{got} is neither the peer nor named in the headers"
            );
        }
    }
}

/// Every address written in the header values (bare, `[v6]`, with a port), canonical.
fn named(headers: &HeaderMap) -> Vec<IpAddr> {
    let separators = [',', ';', '=', '"', '[', ']', ' ', '\t'];
    let mut found = Vec::new();
    for value in headers.values() {
        let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
        for token in text.split(separators) {
            let ip = token.parse::<IpAddr>().ok().or_else(|| {
                // `host:port`, a port being up to five digits.
                let (host, port) = token.rsplit_once(':')?;
                let port_ok =
                    (1..=5).contains(&port.len()) && port.bytes().all(|b| b.is_ascii_digit());
                port_ok.then(|| host.parse::<IpAddr>().ok()).flatten()
            });
            found.extend(ip.map(|ip| ip.to_canonical()));
        }
        // `[v6]:port` splits into `v6` and `:port`; the v6 part is already a token.
    }
    found
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    match pick % 6 {
        route @ 0..=2 => {
            if let (2, Ok(true)) = (route, fuzzing::body(route, rest)) {
                // A struct also reads from an array: `["123"]`.
                let body: serde_json::Value = serde_json::from_slice(rest).expect("parsed once");
                let number = match &body {
                    serde_json::Value::Array(items) => &items[0],
                    object => &object["number"],
                };
                let number = number.as_str().expect("a string").trim();
                let digits = number.strip_prefix('+').unwrap_or(number);
                assert!(!digits.is_empty());
                assert!(digits
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#'));
            }
        }
        route @ 3..=4 => {
            let _ = fuzzing::query(route - 3, &String::from_utf8_lossy(rest));
        }
        _ => addresses(rest),
    }
});
