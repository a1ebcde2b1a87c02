//! Admission before any work: the in-flight cap, the rate limits, and which address a request
//! comes from when it arrives through a load balancer.

use std::num::NonZeroU32;

use super::env::Env;
use super::setting::{Group, Range, Setting, Unset, Value};
use super::{err, ConfigError};
use crate::admission::client_ip::{Cidr, ClientIp};
use crate::admission::rate_limit::RateLimitConfig;

pub const DEFAULT_MAX_IN_FLIGHT: usize = 1024;
pub const DEFAULT_RATE_LIMITS: bool = true;
/// All API requests across clients; protects the database and the process, not hashing (the pool
/// guards that by its own measure).
pub const DEFAULT_RATE_GLOBAL_PER_SEC: u32 = 1000;
pub const DEFAULT_RATE_GLOBAL_BURST: u32 = 2000;
/// Per client address (IPv6 by /64): generous for a NAT of real users, tight for a script.
pub const DEFAULT_RATE_IP_PER_MIN: u32 = 60;
pub const DEFAULT_RATE_IP_BURST: u32 = 20;
/// Per client network (IPv4 /24, IPv6 /48): ten clients' worth, so an office or a campus NAT
/// block is not starved, while one party rotating through a block gets no more than that.
pub const DEFAULT_RATE_NET_PER_MIN: u32 = 600;
pub const DEFAULT_RATE_NET_BURST: u32 = 200;
/// Reset emails one address can trigger per hour, across replicas.
pub const DEFAULT_RATE_EMAIL_PER_HOUR: u32 = 3;
pub const DEFAULT_CLIENT_IP_HEADER: &str = "x-forwarded-for";

pub static MAX_IN_FLIGHT: Setting<usize> = Setting {
    name: "RESETGATE_MAX_IN_FLIGHT",
    doc:
        "Most requests in progress at once; the next is refused at once with `503 overloaded`, never queued.",
    unset: Unset::Default(DEFAULT_MAX_IN_FLIGHT),
    bounds: Range::above(0),
    secret: false,
};
pub static RATE_LIMITS: Setting<bool> = Setting {
    name: "RESETGATE_RATE_LIMITS",
    doc:
        "`false` turns off the rate limits below: for load tests from one address only, never in production.",
    unset: Unset::Default(DEFAULT_RATE_LIMITS),
    bounds: (),
    secret: false,
};
pub static RATE_GLOBAL_PER_SEC: Setting<u32> = Setting {
    name: "RESETGATE_RATE_GLOBAL_PER_SEC",
    doc: "Requests per second across all clients (token bucket).",
    unset: Unset::Default(DEFAULT_RATE_GLOBAL_PER_SEC),
    bounds: Range::above(0),
    secret: false,
};
pub static RATE_GLOBAL_BURST: Setting<u32> = Setting {
    name: "RESETGATE_RATE_GLOBAL_BURST",
    doc: "Bucket size of the global limit.",
    unset: Unset::Default(DEFAULT_RATE_GLOBAL_BURST),
    bounds: Range::above(0),
    secret: false,
};
pub static RATE_IP_PER_MIN: Setting<u32> = Setting {
    name: "RESETGATE_RATE_IP_PER_MIN",
    doc: "Requests per minute per client address (an IPv4 address, or an IPv6 /64).",
    unset: Unset::Default(DEFAULT_RATE_IP_PER_MIN),
    bounds: Range::above(0),
    secret: false,
};
pub static RATE_IP_BURST: Setting<u32> = Setting {
    name: "RESETGATE_RATE_IP_BURST",
    doc: "Bucket size of the per-address limit.",
    unset: Unset::Default(DEFAULT_RATE_IP_BURST),
    bounds: Range::above(0),
    secret: false,
};
pub static RATE_NET_PER_MIN: Setting<u32> = Setting {
    name: "RESETGATE_RATE_NET_PER_MIN",
    doc: "Requests per minute per client network (an IPv4 /24 or an IPv6 /48), on top of the per-address limit.",
    unset: Unset::Default(DEFAULT_RATE_NET_PER_MIN),
    bounds: Range::above(0),
    secret: false,
};
pub static RATE_NET_BURST: Setting<u32> = Setting {
    name: "RESETGATE_RATE_NET_BURST",
    doc: "Bucket size of the per-network limit.",
    unset: Unset::Default(DEFAULT_RATE_NET_BURST),
    bounds: Range::above(0),
    secret: false,
};
pub static RATE_EMAIL_PER_HOUR: Setting<u32> = Setting {
    name: "RESETGATE_RATE_EMAIL_PER_HOUR",
    doc: "Reset requests per email address per hour, counted in the store so it holds across replicas.",
    unset: Unset::Default(DEFAULT_RATE_EMAIL_PER_HOUR),
    bounds: Range::above(0),
    secret: false,
};
pub static TRUSTED_PROXIES: Setting<Vec<Cidr>> = Setting {
    name: "RESETGATE_TRUSTED_PROXIES",
    doc:
        "Load balancers: only from these peers is the client address taken from `RESETGATE_CLIENT_IP_HEADER`.",
    unset: Unset::Default(Vec::new()),
    bounds: (),
    secret: false,
};
pub static CLIENT_IP_HEADER: Setting<String> = Setting {
    name: "RESETGATE_CLIENT_IP_HEADER",
    doc: "Header carrying the client address as your trusted proxies set it (its right-most untrusted entry counts).",
    unset: Unset::DefaultText(DEFAULT_CLIENT_IP_HEADER),
    bounds: (),
    secret: false,
};

pub(super) static GROUP: Group = Group {
    title: "Admission and rate limits",
    about: "The limits are token buckets; a refused request gets `429` with `Retry-After`. With no trusted \
            proxies the TCP peer is the client.",
    settings: &[
        &MAX_IN_FLIGHT,
        &RATE_LIMITS,
        &RATE_GLOBAL_PER_SEC,
        &RATE_GLOBAL_BURST,
        &RATE_IP_PER_MIN,
        &RATE_IP_BURST,
        &RATE_NET_PER_MIN,
        &RATE_NET_BURST,
        &RATE_EMAIL_PER_HOUR,
        &TRUSTED_PROXIES,
        &CLIENT_IP_HEADER,
    ],
};

impl Value for Vec<Cidr> {
    type Bounds = ();

    fn kind() -> String {
        "comma-separated addresses or CIDR blocks".to_owned()
    }

    fn parse(raw: &str) -> Result<Self, String> {
        raw.split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| s.parse::<Cidr>().map_err(|e| e.to_string()))
            .collect()
    }

    fn show(&self) -> String {
        self.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
    }
}

fn nonzero(env: &Env<'_>, s: &Setting<u32>) -> Result<NonZeroU32, ConfigError> {
    // The declared bounds already refuse 0.
    NonZeroU32::new(env.get(s)?).ok_or_else(|| err(s.name, "must be greater than 0"))
}

pub(super) fn rate_limits(env: &Env<'_>) -> Result<RateLimitConfig, ConfigError> {
    let header = env.get(&CLIENT_IP_HEADER)?.to_ascii_lowercase();
    if http::HeaderName::from_bytes(header.as_bytes()).is_err() {
        return Err(err(CLIENT_IP_HEADER.name, "not a valid header name"));
    }
    env.show(&CLIENT_IP_HEADER, &header);
    Ok(RateLimitConfig {
        enabled: env.get(&RATE_LIMITS)?,
        global_per_sec: nonzero(env, &RATE_GLOBAL_PER_SEC)?,
        global_burst: nonzero(env, &RATE_GLOBAL_BURST)?,
        ip_per_min: nonzero(env, &RATE_IP_PER_MIN)?,
        ip_burst: nonzero(env, &RATE_IP_BURST)?,
        net_per_min: nonzero(env, &RATE_NET_PER_MIN)?,
        net_burst: nonzero(env, &RATE_NET_BURST)?,
        email_per_hour: env.get(&RATE_EMAIL_PER_HOUR)?,
        client_ip: ClientIp {
            trusted_proxies: env.get(&TRUSTED_PROXIES)?,
            header,
        },
    })
}
