//! `resetgate healthcheck`: the probe a container runtime runs inside the image, which has no shell
//! or curl (distroless). It asks this process's own ops listener for /readyz, so it reports what a
//! load balancer would see: 200 when serving, 503 while draining or when the database is gone.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::config::{self, ConfigError};

/// The URL to probe: `url` if given, else /readyz on `RESETGATE_OPS_LISTEN`, read through its
/// declaration (so it accepts exactly what `serve` accepts) from `lookup`.
///
/// # Errors
/// `RESETGATE_OPS_LISTEN` is set but is not an address and port.
pub fn target(url: Option<String>, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, ConfigError> {
    if let Some(url) = url {
        return Ok(url);
    }
    let addr = config::ops_listen_from_lookup(lookup)?;
    Ok(format!("http://{}/readyz", reachable(addr)))
}

/// A listener bound to every interface is reached on loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

/// GETs `url`; success only on a 2xx within `timeout`. Prints one line saying what it saw.
pub async fn run(url: &str, timeout: Duration) -> ExitCode {
    let uri: http::Uri = match url.parse() {
        Ok(u) => u,
        Err(e) => {
            eprintln!("resetgate healthcheck: {url:?} is not a URL: {e}");
            return ExitCode::from(super::EXIT_CONFIG);
        }
    };
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    match tokio::time::timeout(timeout, client.get(uri)).await {
        Ok(Ok(resp)) if resp.status().is_success() => {
            println!("healthy: {url} answered {}", resp.status());
            ExitCode::SUCCESS
        }
        Ok(Ok(resp)) => {
            println!("unhealthy: {url} answered {}", resp.status());
            ExitCode::FAILURE
        }
        Ok(Err(e)) => {
            println!("unhealthy: {url}: {e}");
            ExitCode::FAILURE
        }
        Err(_) => {
            println!("unhealthy: {url}: no answer within {} ms", timeout.as_millis());
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(value: Option<&str>) -> impl Fn(&str) -> Option<String> + '_ {
        move |k| {
            (k == "RESETGATE_OPS_LISTEN")
                .then(|| value.map(str::to_owned))
                .flatten()
        }
    }

    #[test]
    fn probes_readyz_on_the_ops_listener() {
        assert_eq!(target(None, &ops(None)).unwrap(), "http://127.0.0.1:9464/readyz");
        assert_eq!(
            target(None, &ops(Some("0.0.0.0:9000"))).unwrap(),
            "http://127.0.0.1:9000/readyz"
        );
        assert_eq!(
            target(None, &ops(Some("[::]:9000"))).unwrap(),
            "http://[::1]:9000/readyz"
        );
        assert_eq!(
            target(None, &ops(Some("10.1.2.3:9464"))).unwrap(),
            "http://10.1.2.3:9464/readyz"
        );
        assert_eq!(
            target(Some("http://x/livez".into()), &ops(None)).unwrap(),
            "http://x/livez"
        );
    }

    #[test]
    fn a_bad_ops_listen_is_a_config_error() {
        let e = target(None, &ops(Some("nine"))).unwrap_err();
        assert_eq!(e.var, "RESETGATE_OPS_LISTEN");
    }

    #[test]
    fn the_ops_listen_is_read_as_serve_reads_it() {
        // Surrounding blanks are trimmed by every setting's parser; the probe must agree.
        assert_eq!(
            target(None, &ops(Some(" 127.0.0.1:9000 "))).unwrap(),
            "http://127.0.0.1:9000/readyz"
        );
    }
}
