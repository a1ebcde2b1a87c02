//! Reads the pool's own job counts from the gateway's /metrics. The HTTP answer for a job refused at
//! admission and for one that expired in the queue is the same 503, so only the gateway can say
//! how many of each there were.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// Login-lane job outcomes counted by `resetgate_hash_jobs_total`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct JobCounts {
    pub completed: u64,
    pub shed: u64,
    pub expired: u64,
    pub abandoned: u64,
    /// `resetgate_hash_duration_seconds` (login lane): hashes timed inside the gateway.
    pub hash_count: u64,
    pub hash_seconds: f64,
    /// `resetgate_hash_lifo_picks_total`: jobs taken newest-first; `None` from builds without it.
    pub lifo_picks: Option<u64>,
}

impl JobCounts {
    /// Counts between two scrapes.
    #[must_use]
    pub fn since(self, earlier: Self) -> Self {
        Self {
            completed: self.completed.saturating_sub(earlier.completed),
            shed: self.shed.saturating_sub(earlier.shed),
            expired: self.expired.saturating_sub(earlier.expired),
            abandoned: self.abandoned.saturating_sub(earlier.abandoned),
            hash_count: self.hash_count.saturating_sub(earlier.hash_count),
            hash_seconds: (self.hash_seconds - earlier.hash_seconds).max(0.0),
            lifo_picks: self
                .lifo_picks
                .zip(earlier.lifo_picks)
                .map(|(now, then)| now.saturating_sub(then)),
        }
    }

    /// Mean time of one hash inside the gateway over the interval.
    #[must_use]
    pub fn mean_hash(&self) -> Option<Duration> {
        #[allow(clippy::cast_precision_loss, reason = "hash counts are far below 2^52")]
        let mean = self.hash_seconds / self.hash_count as f64;
        (self.hash_count > 0).then(|| Duration::from_secs_f64(mean))
    }
}

/// The counts now, or `None` when /metrics is unreachable: the report then leaves them blank.
pub async fn login_jobs(ops: Option<SocketAddr>) -> Option<JobCounts> {
    let uri = format!("http://{}/metrics", ops?);
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let req = Request::builder()
        .method(Method::GET)
        .uri(uri)
        .body(Full::new(Bytes::new()))
        .ok()?;
    let fetch = async {
        let resp = client.request(req).await.ok()?;
        if !resp.status().is_success() {
            return None;
        }
        resp.into_body()
            .collect()
            .await
            .ok()
            .map(http_body_util::Collected::to_bytes)
    };
    let body = tokio::time::timeout(Duration::from_secs(2), fetch).await.ok()??;
    Some(parse(&String::from_utf8_lossy(&body)))
}

fn parse(text: &str) -> JobCounts {
    let mut counts = JobCounts::default();
    for line in text.lines() {
        if let Some(v) = line
            .strip_prefix("resetgate_hash_lifo_picks_total ")
            .and_then(|v| v.trim().parse::<f64>().ok())
        {
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "Prometheus prints integer counters as floats"
            )]
            let v = v as u64;
            counts.lifo_picks = Some(v);
            continue;
        }
        if let Some(v) = login_value(line, "resetgate_hash_duration_seconds_sum{") {
            counts.hash_seconds = v;
            continue;
        }
        if let Some(v) = login_value(line, "resetgate_hash_duration_seconds_count{") {
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "Prometheus prints integer counters as floats"
            )]
            let v = v as u64;
            counts.hash_count = v;
            continue;
        }
        let Some(rest) = line.strip_prefix("resetgate_hash_jobs_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.split_once('}') else {
            continue;
        };
        if !labels.contains("lane=\"login\"") {
            continue;
        }
        let Ok(value) = value.trim().parse::<f64>() else {
            continue;
        };
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "Prometheus prints integer counters as floats"
        )]
        let value = value as u64;
        let slot = if labels.contains("outcome=\"completed\"") {
            &mut counts.completed
        } else if labels.contains("outcome=\"shed\"") {
            &mut counts.shed
        } else if labels.contains("outcome=\"expired\"") {
            &mut counts.expired
        } else if labels.contains("outcome=\"abandoned\"") {
            &mut counts.abandoned
        } else {
            continue;
        };
        *slot = value;
    }
    counts
}

/// The value of a login-lane sample of `prefix` (metric name and opening brace).
fn login_value(line: &str, prefix: &str) -> Option<f64> {
    let (labels, value) = line.strip_prefix(prefix)?.split_once('}')?;
    if !labels.contains("lane=\"login\"") {
        return None;
    }
    value.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_login_lane_counters() {
        let text = "# HELP x\n\
            resetgate_hash_jobs_total{lane=\"login\",outcome=\"completed\"} 12\n\
            resetgate_hash_jobs_total{lane=\"login\",outcome=\"expired\"} 3\n\
            resetgate_hash_jobs_total{lane=\"confirm\",outcome=\"shed\"} 99\n\
            resetgate_hash_jobs_total{lane=\"login\",outcome=\"shed\"} 7\n\
            resetgate_hash_duration_seconds_sum{lane=\"login\"} 0.3\n\
            resetgate_hash_duration_seconds_count{lane=\"login\"} 20\n\
            resetgate_hash_duration_seconds_count{lane=\"confirm\"} 5\n\
            resetgate_hash_lifo_picks_total 4\n";
        let c = parse(text);
        assert_eq!(
            c,
            JobCounts {
                completed: 12,
                shed: 7,
                expired: 3,
                abandoned: 0,
                hash_count: 20,
                hash_seconds: 0.3,
                lifo_picks: Some(4),
            }
        );
        assert_eq!(c.mean_hash(), Some(Duration::from_millis(15)));
    }
}
