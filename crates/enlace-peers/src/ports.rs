//! Free loopback ports. Ports are picked at random BELOW the kernel's default ephemeral range
//! (32768–60999) so that an outgoing connection can never grab a port between our check and
//! the peer binding it, and are remembered per process so two peers started by parallel tests
//! of one binary never get the same one.

use std::collections::hash_map::RandomState;
use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// Signalling/control ports come from here.
const CONTROL_RANGE: (u16, u16) = (21_000, 31_000);
/// Media (RTP) ports come from here.
const MEDIA_RANGE: (u16, u16) = (10_000, 20_000);

fn handed_out() -> &'static Mutex<HashSet<u16>> {
    static SET: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    SET.get_or_init(|| Mutex::new(HashSet::new()))
}

/// A random number; no extra dependency (std's `RandomState` is seeded randomly per process).
pub(crate) fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(d.as_nanos());
    }
    h.finish()
}

fn is_free(port: u16) -> bool {
    let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);
    TcpListener::bind(addr).is_ok() && UdpSocket::bind(addr).is_ok()
}

/// `count` consecutive ports, each free for both TCP and UDP on 127.0.0.1.
fn consecutive(range: (u16, u16), count: u16) -> Option<u16> {
    let span = u64::from(range.1 - range.0 - count);
    for _ in 0..500 {
        let offset = u16::try_from(random_u64() % span).unwrap_or(0);
        let base = range.0 + offset;
        let Ok(mut taken) = handed_out().lock() else {
            return None;
        };
        if (base..base + count).any(|p| taken.contains(&p)) {
            continue;
        }
        if (base..base + count).all(is_free) {
            taken.extend(base..base + count);
            return Some(base);
        }
    }
    None
}

/// One port (free on TCP and UDP) for control or SIP.
pub(crate) fn control_port() -> Option<u16> {
    consecutive(CONTROL_RANGE, 1)
}

/// A port `p` where `p` and `p + 1` are both free (baresip binds TLS on `sip_listen + 1`).
pub(crate) fn sip_port_pair() -> Option<u16> {
    consecutive(CONTROL_RANGE, 2)
}

/// The first of `count` consecutive free media ports.
pub(crate) fn media_ports(count: u16) -> Option<u16> {
    consecutive(MEDIA_RANGE, count)
}

/// Whether a UDP socket is bound on 127.0.0.1:`port` (or the wildcard address), per
/// `/proc/net/udp`. Off Linux this cannot be checked and returns `true`.
pub(crate) fn udp_bound(port: u16) -> bool {
    #[cfg(target_os = "linux")]
    {
        let Ok(table) = std::fs::read_to_string("/proc/net/udp") else {
            return false;
        };
        let wanted = [
            format!("0100007F:{port:04X}"),
            format!("00000000:{port:04X}"),
        ];
        table
            .lines()
            .skip(1)
            .filter_map(|line| line.split_whitespace().nth(1))
            .any(|local| wanted.iter().any(|w| w == local))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = port;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_and_free() {
        let a = sip_port_pair().unwrap();
        let b = sip_port_pair().unwrap();
        assert!(a.abs_diff(b) >= 2, "{a} {b}");
        assert!((CONTROL_RANGE.0..CONTROL_RANGE.1 - 1).contains(&a));
        let taken = handed_out().lock().unwrap();
        assert!([a, a + 1, b, b + 1].iter().all(|p| taken.contains(p)));
        drop(taken);
        let m = media_ports(4).unwrap();
        assert!((MEDIA_RANGE.0..MEDIA_RANGE.1).contains(&m));
    }

    #[test]
    fn sees_a_bound_udp_port() {
        let port = control_port().unwrap();
        assert!(!udp_bound(port));
        let sock = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)).unwrap();
        assert!(udp_bound(port));
        drop(sock);
        assert!(!udp_bound(port));
    }
}
