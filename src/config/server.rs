//! The listeners, the public base URL that reset links are built from, and the per-request and
//! shutdown timings.

use std::net::SocketAddr;
use std::time::Duration;

use url::Url;

use super::env::Env;
use super::setting::{Group, Range, Setting, Unset, Value};
use super::{err, ConfigError, Mode};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Metrics and probes, on loopback by default: /metrics must not be public.
pub const DEFAULT_OPS_LISTEN: &str = "127.0.0.1:9464";
pub const DEFAULT_BODY_LIMIT_BYTES: usize = 16 * 1024;
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 10_000;
pub const DEFAULT_DRAIN_TIMEOUT_MS: u64 = 30_000;
pub const DEFAULT_SHUTDOWN_DELAY_MS: u64 = 0;

pub static LISTEN: Setting<SocketAddr> = Setting {
    name: "RESETGATE_LISTEN",
    doc: "Address and port of the public API.",
    unset: Unset::DefaultText(DEFAULT_LISTEN),
    bounds: (),
    secret: false,
};
pub static OPS_LISTEN: Setting<SocketAddr> = Setting {
    name: "RESETGATE_OPS_LISTEN",
    doc: "Listener for `/metrics`, `/livez` and `/readyz`, kept off the public port.",
    unset: Unset::DefaultText(DEFAULT_OPS_LISTEN),
    bounds: (),
    secret: false,
};
pub static PUBLIC_BASE_URL: Setting<Url> = Setting {
    name: "RESETGATE_PUBLIC_BASE_URL",
    doc: "Base of the links in emails: http(s) with a host, no query or fragment; a trailing `/` is added.",
    unset: Unset::Means("required by `serve`; `http://<RESETGATE_LISTEN>/` otherwise"),
    bounds: (),
    secret: false,
};
pub static BODY_LIMIT_BYTES: Setting<usize> = Setting {
    name: "RESETGATE_BODY_LIMIT_BYTES",
    doc: "Largest request body accepted (a larger one gets `413`).",
    unset: Unset::Default(DEFAULT_BODY_LIMIT_BYTES),
    bounds: Range::above(0),
    secret: false,
};
pub static REQUEST_TIMEOUT_MS: Setting<u64> = Setting {
    name: "RESETGATE_REQUEST_TIMEOUT_MS",
    doc: "Total time a request may take, waiting for a hash slot included (past it: `503 timeout`).",
    unset: Unset::Default(DEFAULT_REQUEST_TIMEOUT_MS),
    bounds: Range::above(0),
    secret: false,
};
pub static DRAIN_TIMEOUT_MS: Setting<u64> = Setting {
    name: "RESETGATE_DRAIN_TIMEOUT_MS",
    doc: "On shutdown, how long in-flight requests get to finish before their connections are cut.",
    unset: Unset::Default(DEFAULT_DRAIN_TIMEOUT_MS),
    bounds: Range::ANY,
    secret: false,
};
pub static SHUTDOWN_DELAY_MS: Setting<u64> = Setting {
    name: "RESETGATE_SHUTDOWN_DELAY_MS",
    doc: "On shutdown, how long the listener keeps accepting after `/readyz` turns 503, so a load balancer notices first.",
    unset: Unset::Default(DEFAULT_SHUTDOWN_DELAY_MS),
    bounds: Range::ANY,
    secret: false,
};

pub(super) static GROUP: Group = Group {
    title: "Server",
    about: "Reset links are built from `RESETGATE_PUBLIC_BASE_URL`, never from a request's Host header. \
            Under `serve` it must be https (the links carry a token), except for a loopback host.",
    settings: &[
        &LISTEN,
        &OPS_LISTEN,
        &PUBLIC_BASE_URL,
        &BODY_LIMIT_BYTES,
        &REQUEST_TIMEOUT_MS,
        &DRAIN_TIMEOUT_MS,
        &SHUTDOWN_DELAY_MS,
    ],
};

impl Value for Url {
    type Bounds = ();

    fn kind() -> String {
        "URL".to_owned()
    }

    fn parse(raw: &str) -> Result<Self, String> {
        Url::parse(raw).map_err(|e| format!("not a URL: {e}"))
    }

    fn show(&self) -> String {
        self.to_string()
    }
}

pub(super) struct Server {
    pub listen: SocketAddr,
    pub ops_listen: SocketAddr,
    pub public_base_url: Url,
    pub body_limit: usize,
    pub request_timeout: Duration,
    pub drain_timeout: Duration,
    pub shutdown_delay: Duration,
}

fn public_base_url(env: &Env<'_>, mode: Mode, listen: SocketAddr) -> Result<Url, ConfigError> {
    let name = PUBLIC_BASE_URL.name;
    let mut url = match env.opt(&PUBLIC_BASE_URL)? {
        Some(url) => url,
        // Links in the demo point at the demo itself (from config, never from a Host header).
        None if !mode.is_production() => {
            Url::parse(&format!("http://{listen}/")).map_err(|e| err(name, format!("not a URL: {e}")))?
        }
        None => {
            return Err(err(
                name,
                "required by `serve`: reset links are built from it, never from the Host header",
            ))
        }
    };
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(err(name, "must be an http(s) URL with a host"));
    }
    // Reset links carry a bearer token: in production they travel over TLS. Loopback is the
    // exception, for a serve run on a developer's machine.
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if mode.is_production() && url.scheme() != "https" && !loopback {
        return Err(err(
            name,
            "must be https (reset links carry a token); http is allowed only for loopback",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(err(name, "must not have a query or fragment"));
    }
    // A trailing slash makes `join("reset")` append rather than replace the last segment.
    if !url.path().ends_with('/') {
        let p = format!("{}/", url.path());
        url.set_path(&p);
    }
    env.show(&PUBLIC_BASE_URL, &url);
    Ok(url)
}

pub(super) fn parse(env: &Env<'_>, mode: Mode) -> Result<Server, ConfigError> {
    let listen = env.get(&LISTEN)?;
    Ok(Server {
        listen,
        public_base_url: public_base_url(env, mode, listen)?,
        ops_listen: env.get(&OPS_LISTEN)?,
        body_limit: env.get(&BODY_LIMIT_BYTES)?,
        request_timeout: Duration::from_millis(env.get(&REQUEST_TIMEOUT_MS)?),
        drain_timeout: Duration::from_millis(env.get(&DRAIN_TIMEOUT_MS)?),
        shutdown_delay: Duration::from_millis(env.get(&SHUTDOWN_DELAY_MS)?),
    })
}
