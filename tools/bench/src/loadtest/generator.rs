//! The open-loop generator. Requests are sent on a fixed schedule, one every 1/R seconds,
//! whatever the gateway answers: a closed loop (send, wait, send) slows down with the server and
//! hides exactly the overload this test is about. Latency is measured from the *scheduled* send
//! time, so a generator that falls behind its schedule charges the delay to the latency instead of
//! silently omitting it (coordinated omission).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::task::JoinSet;

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 200: logged in, one argon2 verify done.
    Ok,
    /// 503 `hashing_overloaded`: refused at admission, or expired in the queue.
    Shed,
    /// 503 `timeout` from the gateway, or no answer before the generator gave up.
    Timeout,
    /// Anything else; the status (0 = the connection failed).
    Error(u16),
}

#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Index of the segment the request was scheduled in.
    pub segment: usize,
    /// Scheduled send time, from the start of its segment.
    pub scheduled: Duration,
    /// From the scheduled send time to the whole response.
    pub latency: Duration,
    /// From the scheduled send time to the moment the request task ran: the generator's own
    /// share of `latency` (timer granularity, a busy runtime).
    pub lag: Duration,
    pub outcome: Outcome,
}

/// `rate` requests per second for `length`.
#[derive(Debug, Clone, Copy)]
pub struct Segment {
    pub rate: f64,
    pub length: Duration,
}

/// Where and what to send: a login with the seeded account's correct password.
#[derive(Clone)]
pub struct Target {
    client: Client<HttpConnector, Full<Bytes>>,
    uri: Uri,
    body: Bytes,
}

impl Target {
    /// # Errors
    /// When the address does not make a valid URI.
    pub fn login(addr: SocketAddr, email: &str, password: &str) -> anyhow::Result<Self> {
        let mut connector = HttpConnector::new();
        // Small requests on loopback: never let Nagle hold a write back.
        connector.set_nodelay(true);
        // The pool opens a connection per concurrent request and keeps them all: an open-loop
        // burst needs as many connections as requests in flight.
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(usize::MAX)
            .build(connector);
        let uri: Uri = format!("http://{addr}/v1/login")
            .parse()
            .context("building the login URI")?;
        let body = serde_json::to_vec(&serde_json::json!({ "email": email, "password": password }))
            .context("encoding the login body")?;
        Ok(Self {
            client,
            uri,
            body: body.into(),
        })
    }

    /// Sends one request and classifies the answer.
    pub async fn send(&self, give_up: Duration) -> Outcome {
        let Ok(req) = Request::builder()
            .method(Method::POST)
            .uri(self.uri.clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(self.body.clone()))
        else {
            return Outcome::Error(0);
        };
        let exchange = async {
            let resp = self.client.request(req).await.ok()?;
            let status = resp.status();
            let body = resp.into_body().collect().await.ok()?.to_bytes();
            Some(classify(status, &body))
        };
        match tokio::time::timeout(give_up, exchange).await {
            Ok(Some(outcome)) => outcome,
            Ok(None) => Outcome::Error(0),
            Err(_) => Outcome::Timeout,
        }
    }
}

fn classify(status: StatusCode, body: &[u8]) -> Outcome {
    match status {
        StatusCode::OK => Outcome::Ok,
        StatusCode::SERVICE_UNAVAILABLE => {
            let code = serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v["code"].as_str().map(str::to_owned));
            match code.as_deref() {
                Some("hashing_overloaded") => Outcome::Shed,
                Some("timeout") => Outcome::Timeout,
                _ => Outcome::Error(status.as_u16()),
            }
        }
        other => Outcome::Error(other.as_u16()),
    }
}

/// Offers the segments back to back on one schedule, then waits for every answer (each request
/// gives up after `give_up`). Returns one sample per request.
pub async fn offer(target: &Target, segments: &[Segment], give_up: Duration) -> Vec<Sample> {
    let mut inflight = JoinSet::new();
    let mut segment_start = Instant::now();
    for (index, segment) in segments.iter().enumerate() {
        let interval = Duration::from_secs_f64(1.0 / segment.rate.max(1e-3));
        let mut offset = Duration::ZERO;
        while offset < segment.length {
            let due = segment_start + offset;
            // Behind schedule: send at once; the lag counts in the latency (see module docs).
            tokio::time::sleep_until(due.into()).await;
            let target = target.clone();
            let scheduled = offset;
            inflight.spawn(async move {
                let lag = due.elapsed();
                let outcome = target.send(give_up).await;
                Sample {
                    segment: index,
                    scheduled,
                    latency: due.elapsed(),
                    lag,
                    outcome,
                }
            });
            offset += interval;
        }
        // The next segment's schedule continues where this one's ended, with no gap.
        segment_start += segment.length;
    }
    let mut samples = Vec::with_capacity(inflight.len());
    while let Some(done) = inflight.join_next().await {
        // A request task cannot panic short of a bug in hyper; losing its sample is then right.
        if let Ok(sample) = done {
            samples.push(sample);
        }
    }
    samples
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_by_status_and_error_code() {
        let shed = br#"{"type":"tag:resetgate,2026:problem/hashing_overloaded","code":"hashing_overloaded"}"#;
        let timeout = br#"{"type":"tag:resetgate,2026:problem/timeout","code":"timeout"}"#;
        assert_eq!(classify(StatusCode::OK, b"{}"), Outcome::Ok);
        assert_eq!(classify(StatusCode::SERVICE_UNAVAILABLE, shed), Outcome::Shed);
        assert_eq!(
            classify(StatusCode::SERVICE_UNAVAILABLE, timeout),
            Outcome::Timeout
        );
        assert_eq!(
            classify(StatusCode::SERVICE_UNAVAILABLE, b"?"),
            Outcome::Error(503)
        );
        assert_eq!(classify(StatusCode::UNAUTHORIZED, b"{}"), Outcome::Error(401));
    }
}
