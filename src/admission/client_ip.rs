//! Which address a request comes from, for per-client rate limits. Behind a load balancer the TCP
//! peer is the proxy, so a forwarding header is believed, but only when the peer is a configured
//! trusted proxy; otherwise any client could claim any address. IPv6 clients are keyed by their
//! /64: one subscriber usually holds a whole /64 and can rotate addresses inside it at will.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use http::HeaderMap;

/// The TCP peer of a connection, put into each request's extensions by the server.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// An address block in CIDR notation (`10.0.0.0/8`, `fd00::/8`, or a bare address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not an address or CIDR block: {0:?}")]
pub struct BadCidr(String);

impl FromStr for Cidr {
    type Err = BadCidr;

    fn from_str(s: &str) -> Result<Self, BadCidr> {
        let bad = || BadCidr(s.to_owned());
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(Self { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

fn bits(ip: IpAddr) -> (u128, u8) {
    match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    }
}

impl Cidr {
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        let (net, width) = bits(self.addr);
        let (addr, addr_width) = bits(ip);
        if width != addr_width {
            return false;
        }
        let host_bits = u32::from(width - self.prefix);
        let mask = if host_bits >= 128 {
            0
        } else {
            u128::MAX << host_bits
        };
        net & mask == addr & mask
    }
}

/// IPv4-mapped IPv6 (`::ffff:1.2.3.4`, as dual-stack sockets report v4 peers) is the v4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// The rate-limit key for a client: the IPv4 address, or the IPv6 /64 network.
#[must_use]
pub fn limit_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64))),
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// The network a client address belongs to, for the coarser budget: an IPv4 /24 or an IPv6 /48,
/// the blocks one party typically holds (a small office, a cloud subnet, a home or VPS IPv6
/// allocation). Someone rotating through the addresses of one such block shares one budget.
#[must_use]
pub fn network_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & (u128::MAX << 80))),
        IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(u32::from(v4) & 0xFFFF_FF00)),
    }
}

/// Resolves the client address of a request.
#[derive(Debug, Clone, Default)]
pub struct ClientIp {
    pub trusted_proxies: Vec<Cidr>,
    /// Lowercase header name, e.g. `x-forwarded-for`.
    pub header: String,
}

impl ClientIp {
    fn trusted(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|c| c.contains(ip))
    }

    /// The peer itself unless it is a trusted proxy; then the right-most address in the header
    /// that is not a trusted proxy (entries to its left were written by the client and prove
    /// nothing). A malformed header falls back to the peer.
    #[must_use]
    pub fn resolve(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusted(peer) {
            return canonical(peer);
        }
        let mut client = canonical(peer);
        // A proxy may add its own header line instead of appending to the client's: lines are
        // newest last, so walk them, like the hops inside a line, from the end.
        let lines: Vec<_> = headers.get_all(self.header.as_str()).iter().collect();
        for value in lines.into_iter().rev() {
            let Ok(value) = value.to_str() else { return client };
            for hop in value.split(',').rev() {
                let Some(ip) = parse_hop(hop) else {
                    return client;
                };
                client = canonical(ip);
                if !self.trusted(client) {
                    return client;
                }
            }
        }
        client
    }
}

/// One hop of a forwarding header: an address as proxies write it, with or without a port, IPv6
/// bare or in brackets, possibly quoted (`203.0.113.7`, `203.0.113.7:41234`, `2001:db8::1`,
/// `[2001:db8::1]`, `"[2001:db8::1]:443"`). Anything else (`unknown`, an obfuscated name, a
/// port without an address) is no address.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    let hop = hop
        .strip_prefix('"')
        .and_then(|h| h.strip_suffix('"'))
        .unwrap_or(hop);
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sock) = hop.parse::<std::net::SocketAddr>() {
        return Some(sock.ip());
    }
    hop.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .and_then(|h| h.parse::<std::net::Ipv6Addr>().ok())
        .map(IpAddr::V6)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn xff(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", v.parse().unwrap());
        h
    }

    fn resolver() -> ClientIp {
        ClientIp {
            trusted_proxies: vec!["10.0.0.0/8".parse().unwrap(), "fd00::/8".parse().unwrap()],
            header: "x-forwarded-for".into(),
        }
    }

    #[test]
    fn cidr_parsing_and_matching() {
        let c: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(c.contains(ip("10.1.2.3")));
        assert!(!c.contains(ip("11.0.0.1")));
        assert!(c.contains(ip("::ffff:10.9.9.9")), "v4-mapped v6 counts as v4");
        let one: Cidr = "192.0.2.7".parse().unwrap();
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let all: Cidr = "::/0".parse().unwrap();
        assert!(all.contains(ip("2001:db8::1")));
        for bad in ["", "10.0.0.0/33", "nonsense", "::/129", "1.2.3.4/x"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn untrusted_peers_cannot_claim_an_address() {
        let r = resolver();
        assert_eq!(r.resolve(ip("203.0.113.9"), &xff("1.1.1.1")), ip("203.0.113.9"));
    }

    #[test]
    fn trusted_proxies_are_skipped_from_the_right() {
        let r = resolver();
        // client-spoofed, real client, inner proxy; the peer is the outer proxy.
        let h = xff("6.6.6.6, 198.51.100.4, 10.0.0.2");
        assert_eq!(r.resolve(ip("10.0.0.1"), &h), ip("198.51.100.4"));
        assert_eq!(r.resolve(ip("10.0.0.1"), &xff("garbage")), ip("10.0.0.1"));
        assert_eq!(r.resolve(ip("10.0.0.1"), &HeaderMap::new()), ip("10.0.0.1"));
    }

    #[test]
    fn hops_with_ports_brackets_and_quotes_are_read() {
        for (hop, want) in [
            ("203.0.113.7", "203.0.113.7"),
            (" 203.0.113.7:41234 ", "203.0.113.7"),
            ("2001:db8::1", "2001:db8::1"),
            ("[2001:db8::1]", "2001:db8::1"),
            ("[2001:db8::1]:443", "2001:db8::1"),
            ("\"[2001:db8::1]:443\"", "2001:db8::1"),
            ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),
        ] {
            assert_eq!(parse_hop(hop), Some(ip(want)), "{hop}");
        }
        for junk in [
            "",
            "unknown",
            "_hidden",
            ":443",
            "[203.0.113.7]",
            "203.0.113.7:port",
            "[2001:db8::1",
            "2001:db8::1]:443",
            "1.2.3.4.5",
        ] {
            assert_eq!(parse_hop(junk), None, "{junk:?}");
        }
        // Through the resolver: a proxy that writes ports still yields the client.
        let h = xff("198.51.100.4:5555, [fd00::2]:80");
        assert_eq!(resolver().resolve(ip("10.0.0.1"), &h), ip("198.51.100.4"));
        let h = xff("[2001:db8:1:2::9]:1234");
        assert_eq!(resolver().resolve(ip("10.0.0.1"), &h), ip("2001:db8:1:2::9"));
    }

    #[test]
    fn a_forged_first_header_line_is_not_believed() {
        let r = resolver();
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", "6.6.6.6".parse().unwrap()); // sent by the client
        h.append("x-forwarded-for", "198.51.100.4".parse().unwrap()); // added by our proxy
        assert_eq!(r.resolve(ip("10.0.0.1"), &h), ip("198.51.100.4"));
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        assert_eq!(
            limit_key(ip("2001:db8:1:2:aaaa::1")),
            limit_key(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(limit_key(ip("2001:db8:1:2::1")), limit_key(ip("2001:db8:1:3::1")));
        assert_eq!(limit_key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
        assert_eq!(limit_key(ip("192.0.2.1")), ip("192.0.2.1"));
    }
}
