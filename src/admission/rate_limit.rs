//! Token-bucket rate limits (governor): one per client address (IPv6 by /64), one per client
//! network (IPv4 /24, IPv6 /48: someone rotating through the addresses of one block still shares
//! one budget) and one global.
//! They run before anything that costs a hash or a database round trip, so a flood is refused for
//! the price of two atomic operations. The limiter state lives behind one `Arc` shared by every
//! clone of the layer (a tower `RateLimit` would give each connection its own bucket).
//!
//! The per-address limit on reset requests is not here: it needs the request body and must hold
//! across replicas, so the reset flow counts it in the store.
//!
//! The layer knows nothing of HTTP responses: a refusal is its error, a [`Rejection`], which
//! `http::errors` turns into the 429 along with every other layer's error.

use std::future::Future;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::TryFutureExt as _;
use governor::clock::Clock as _;
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use http::Request;
use tokio_util::sync::CancellationToken;
use tower::{Layer, Service};

use super::client_ip::{limit_key, network_key, ClientIp, PeerAddr};
use crate::metrics::Metrics;

/// How often idle per-address buckets are dropped, bounding memory under a flood of addresses.
pub const CLEANUP_INTERVAL: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    pub enabled: bool,
    pub global_per_sec: NonZeroU32,
    pub global_burst: NonZeroU32,
    pub ip_per_min: NonZeroU32,
    pub ip_burst: NonZeroU32,
    pub net_per_min: NonZeroU32,
    pub net_burst: NonZeroU32,
    /// Reset requests per email address per hour (enforced by the reset flow, in the store).
    pub email_per_hour: u32,
    pub client_ip: ClientIp,
}

/// A limiter refused the request: which one, and how long until it would admit it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("rate limited by the {limiter} limiter for {retry_after:?}")]
pub struct Rejection {
    pub limiter: &'static str,
    pub retry_after: Duration,
}

pub struct RateLimits {
    global: Option<DefaultDirectRateLimiter>,
    per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    per_net: Option<DefaultKeyedRateLimiter<IpAddr>>,
    client_ip: ClientIp,
    metrics: Arc<Metrics>,
}

impl RateLimits {
    #[must_use]
    pub fn new(config: &RateLimitConfig, metrics: Arc<Metrics>) -> Self {
        let (global, per_ip, per_net) = if config.enabled {
            (
                Some(RateLimiter::direct(
                    Quota::per_second(config.global_per_sec).allow_burst(config.global_burst),
                )),
                Some(RateLimiter::keyed(
                    Quota::per_minute(config.ip_per_min).allow_burst(config.ip_burst),
                )),
                Some(RateLimiter::keyed(
                    Quota::per_minute(config.net_per_min).allow_burst(config.net_burst),
                )),
            )
        } else {
            (None, None, None)
        };
        Self {
            global,
            per_ip,
            per_net,
            client_ip: config.client_ip.clone(),
            metrics,
        }
    }

    /// Narrowest first, so one abusive client drains its own bucket before the shared ones.
    ///
    /// # Errors
    /// The limiter that refused and when to retry.
    pub fn check<B>(&self, req: &Request<B>) -> Result<(), Rejection> {
        // Each limiter's own clock: building a `DefaultClock` (quanta) probes the CPU and
        // calibrates, and doing that per request was the largest single cost of a request that
        // does not hash (about 1 % of a saturated box in the waiting-room simulation's profile).
        if let (Some(per_ip), Some(per_net), Some(PeerAddr(peer))) =
            (&self.per_ip, &self.per_net, req.extensions().get::<PeerAddr>())
        {
            let client = self.client_ip.resolve(peer.ip(), req.headers());
            if let Err(not_until) = per_ip.check_key(&limit_key(client)) {
                return Err(self.reject("ip", not_until.wait_time_from(per_ip.clock().now())));
            }
            if let Err(not_until) = per_net.check_key(&network_key(client)) {
                return Err(self.reject("network", not_until.wait_time_from(per_net.clock().now())));
            }
        }
        if let Some(global) = &self.global {
            if let Err(not_until) = global.check() {
                return Err(self.reject("global", not_until.wait_time_from(global.clock().now())));
            }
        }
        Ok(())
    }

    /// The client network of a request (IPv4 /24, IPv6 /48), resolved through trusted proxies
    /// as the limits resolve it; `None` when the peer is unknown (requests built in tests).
    #[must_use]
    pub fn client_network<B>(&self, req: &Request<B>) -> Option<IpAddr> {
        let PeerAddr(peer) = req.extensions().get::<PeerAddr>()?;
        Some(network_key(self.client_ip.resolve(peer.ip(), req.headers())))
    }

    fn reject(&self, limiter: &'static str, retry_after: Duration) -> Rejection {
        self.metrics.rate_limited.with_label_values(&[limiter]).inc();
        Rejection { limiter, retry_after }
    }

    /// Drops buckets that are full again (indistinguishable from new ones) and frees their memory.
    pub fn cleanup(&self) {
        for keyed in [&self.per_ip, &self.per_net].into_iter().flatten() {
            keyed.retain_recent();
            keyed.shrink_to_fit();
        }
        self.publish_keys();
    }

    pub fn publish_keys(&self) {
        for (label, keyed) in [("ip", &self.per_ip), ("network", &self.per_net)] {
            let keys = keyed.as_ref().map_or(0, DefaultKeyedRateLimiter::len);
            self.metrics
                .rate_limiter_keys
                .with_label_values(&[label])
                .set(i64::try_from(keys).unwrap_or(i64::MAX));
        }
    }

    #[must_use]
    pub fn ip_keys(&self) -> usize {
        self.per_ip.as_ref().map_or(0, DefaultKeyedRateLimiter::len)
    }
}

/// Runs [`RateLimits::cleanup`] every `every` until shutdown.
pub async fn cleanup_task(limits: Arc<RateLimits>, every: Duration, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => limits.cleanup(),
        }
    }
}

#[derive(Clone)]
pub struct RateLimitLayer {
    pub limits: Arc<RateLimits>,
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;
    fn layer(&self, inner: S) -> RateLimit<S> {
        RateLimit {
            inner,
            limits: Arc::clone(&self.limits),
        }
    }
}

#[derive(Clone)]
pub struct RateLimit<S> {
    inner: S,
    limits: Arc<RateLimits>,
}

impl<S, B> Service<Request<B>> for RateLimit<S>
where
    S: Service<Request<B>>,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    S::Error: Into<tower::BoxError> + 'static,
{
    type Response = S::Response;
    type Error = tower::BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, tower::BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), tower::BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        match self.limits.check(&req) {
            Ok(()) => Box::pin(self.inner.call(req).err_into()),
            Err(r) => Box::pin(std::future::ready(Err(r.into()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;

    fn config(ip_per_min: u32, ip_burst: u32) -> RateLimitConfig {
        RateLimitConfig {
            enabled: true,
            global_per_sec: NonZeroU32::new(100_000).unwrap(),
            global_burst: NonZeroU32::new(100_000).unwrap(),
            ip_per_min: NonZeroU32::new(ip_per_min).unwrap(),
            ip_burst: NonZeroU32::new(ip_burst).unwrap(),
            net_per_min: NonZeroU32::new(ip_per_min * 10).unwrap(),
            net_burst: NonZeroU32::new(ip_burst * 10).unwrap(),
            email_per_hour: 3,
            client_ip: ClientIp::default(),
        }
    }

    fn from(addr: &str) -> Request<()> {
        let mut req = Request::new(());
        req.extensions_mut()
            .insert(PeerAddr(addr.parse::<SocketAddr>().unwrap()));
        req
    }

    #[test]
    fn per_ip_bucket_refuses_after_its_burst() {
        let limits = RateLimits::new(&config(60, 2), Arc::new(Metrics::new()));
        assert!(limits.check(&from("192.0.2.1:1000")).is_ok());
        assert!(limits.check(&from("192.0.2.1:1001")).is_ok());
        let r = limits.check(&from("192.0.2.1:1002")).unwrap_err();
        assert_eq!(r.limiter, "ip");
        assert!(r.retry_after > Duration::ZERO && r.retry_after <= Duration::from_secs(1));
        // Another client, and another address in the same IPv6 /64 shares a bucket.
        assert!(limits.check(&from("192.0.2.2:1000")).is_ok());
        assert!(limits.check(&from("[2001:db8::1]:1")).is_ok());
        assert!(limits.check(&from("[2001:db8::2]:1")).is_ok());
        assert_eq!(limits.check(&from("[2001:db8::3]:1")).unwrap_err().limiter, "ip");
    }

    #[test]
    fn addresses_of_one_network_share_its_budget() {
        let mut c = config(60, 2);
        c.net_burst = NonZeroU32::new(3).unwrap();
        let limits = RateLimits::new(&c, Arc::new(Metrics::new()));
        // Three addresses in one IPv4 /24, one request each: each address is within its own
        // budget, but the fourth address of the block finds the network's bucket empty.
        for i in 1..=3 {
            assert!(limits.check(&from(&format!("198.51.100.{i}:1"))).is_ok());
        }
        assert_eq!(
            limits.check(&from("198.51.100.200:1")).unwrap_err().limiter,
            "network"
        );
        assert!(
            limits.check(&from("198.51.101.1:1")).is_ok(),
            "the next /24 is another network"
        );
        // IPv6: different /64s inside one /48 share it; another /48 does not.
        for i in 1..=3 {
            assert!(limits.check(&from(&format!("[2001:db8:1:{i}::1]:1"))).is_ok());
        }
        assert_eq!(
            limits.check(&from("[2001:db8:1:ff::1]:1")).unwrap_err().limiter,
            "network"
        );
        assert!(limits.check(&from("[2001:db8:2::1]:1")).is_ok());
        // IPv4-mapped IPv6 is the same client as its IPv4 form.
        assert_eq!(
            limits
                .check(&from("[::ffff:198.51.100.9]:1"))
                .unwrap_err()
                .limiter,
            "network"
        );
    }

    #[test]
    fn cleanup_bounds_the_key_count() {
        let limits = RateLimits::new(&config(6000, 100), Arc::new(Metrics::new()));
        for i in 0..5000u32 {
            let ip = std::net::Ipv4Addr::from(0x0A00_0000 + i);
            assert!(limits.check(&from(&format!("{ip}:1"))).is_ok());
        }
        assert_eq!(limits.ip_keys(), 5000);
        // A bucket that has refilled is indistinguishable from a fresh one and is dropped. At 100
        // per second one token is back after 10 ms.
        std::thread::sleep(Duration::from_millis(50));
        limits.cleanup();
        assert_eq!(limits.ip_keys(), 0);
    }

    #[test]
    fn the_global_bucket_is_shared_by_all_clients() {
        let mut c = config(6000, 100);
        c.global_per_sec = NonZeroU32::new(1).unwrap();
        c.global_burst = NonZeroU32::new(3).unwrap();
        let limits = RateLimits::new(&c, Arc::new(Metrics::new()));
        for i in 1..=3 {
            assert!(limits.check(&from(&format!("192.0.2.{i}:1"))).is_ok());
        }
        assert_eq!(limits.check(&from("192.0.2.9:1")).unwrap_err().limiter, "global");
    }

    #[test]
    fn disabled_limits_admit_everything() {
        let mut c = config(1, 1);
        c.enabled = false;
        let limits = RateLimits::new(&c, Arc::new(Metrics::new()));
        for _ in 0..10 {
            assert!(limits.check(&from("192.0.2.1:1")).is_ok());
        }
    }
}
