//! The send budget: a global token bucket (messages per second) shared by every replica, plus one
//! bucket per recipient domain so a single provider is not flooded (large providers throttle or
//! junk a sender that bursts). The arithmetic lives here; the stores keep the bucket state (a row
//! per bucket in PostgreSQL, locked for the length of one claim, so N replicas share one budget).

use std::collections::HashMap;

/// Rates for the global budget and for recipient domains.
#[derive(Debug, Clone, PartialEq)]
pub struct Pacing {
    /// Messages per second across every replica.
    pub rate: f64,
    /// Most tokens the global bucket holds: the largest burst after an idle spell. Small, so the
    /// rate measured over any minute stays within a few percent of `rate`.
    pub burst: f64,
    /// Per-domain rate for domains without an override; `None` = only the global budget.
    pub domain_default: Option<f64>,
    /// Per-domain overrides (lowercase domain -> messages per second).
    pub domain_rates: HashMap<String, f64>,
}

impl Pacing {
    /// The rate limit of a recipient domain, if any.
    #[must_use]
    pub fn domain_rate(&self, domain: &str) -> Option<f64> {
        self.domain_rates.get(domain).copied().or(self.domain_default)
    }

    /// A domain bucket holds at most one second of its rate (and at least one message).
    #[must_use]
    pub fn domain_burst(rate: f64) -> f64 {
        rate.max(1.0)
    }

    /// No pacing at all: for tests of other behaviour and for the demo.
    #[must_use]
    pub fn unlimited() -> Self {
        Self {
            rate: 1e9,
            burst: 1e9,
            domain_default: None,
            domain_rates: HashMap::new(),
        }
    }
}

/// The bucket key of the global budget and of a domain, as stored.
pub const GLOBAL_BUCKET: &str = "";

#[must_use]
pub fn domain_bucket(domain: &str) -> String {
    format!("domain:{domain}")
}

/// Tokens after refilling at `rate` for `elapsed_secs`, capped at `burst`. A clock that went
/// backwards refills nothing rather than draining the bucket.
#[must_use]
pub fn refill(tokens: f64, elapsed_secs: f64, rate: f64, burst: f64) -> f64 {
    (tokens + rate * elapsed_secs.max(0.0)).min(burst)
}

/// Whole messages the tokens allow, at most `want`.
#[must_use]
pub fn grantable(tokens: f64, want: usize) -> usize {
    if tokens < 1.0 {
        return 0;
    }
    // `tokens` is at most the burst, far below usize::MAX; floor of a positive value.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let whole = tokens.floor() as usize;
    whole.min(want)
}

/// Seconds until the bucket holds one whole token.
#[must_use]
pub fn wait_for_token(tokens: f64, rate: f64) -> f64 {
    if tokens >= 1.0 || rate <= 0.0 {
        0.0
    } else {
        (1.0 - tokens) / rate
    }
}

/// Grants rows to domains in claim order: each row of a rate-limited domain takes one token from
/// its domain's bucket. Returns, per row, `None` when granted or `Some(seconds)` to defer it by.
#[must_use]
#[allow(clippy::implicit_hasher)] // one caller per store, both with the default hasher
pub fn grant_by_domain(
    domains: &[&str],
    pacing: &Pacing,
    domain_tokens: &mut HashMap<String, f64>,
) -> Vec<Option<f64>> {
    domains
        .iter()
        .map(|d| {
            let rate = pacing.domain_rate(d)?;
            let tokens = domain_tokens.entry((*d).to_owned()).or_insert(0.0);
            if *tokens >= 1.0 {
                *tokens -= 1.0;
                None
            } else {
                Some(wait_for_token(*tokens, rate).max(0.001))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pacing() -> Pacing {
        Pacing {
            rate: 100.0,
            burst: 10.0,
            domain_default: None,
            domain_rates: [("big.test".to_owned(), 2.0)].into_iter().collect(),
        }
    }

    #[test]
    fn refill_is_capped_and_ignores_clock_steps_back() {
        assert!((refill(0.0, 0.05, 100.0, 10.0) - 5.0).abs() < 1e-9);
        assert!((refill(3.0, 60.0, 100.0, 10.0) - 10.0).abs() < 1e-9);
        assert!((refill(3.0, -5.0, 100.0, 10.0) - 3.0).abs() < 1e-9);
    }

    #[test]
    fn grants_whole_tokens_only() {
        assert_eq!(grantable(0.99, 5), 0);
        assert_eq!(grantable(3.7, 5), 3);
        assert_eq!(grantable(30.0, 5), 5);
        assert!((wait_for_token(0.5, 100.0) - 0.005).abs() < 1e-9);
    }

    #[test]
    fn a_limited_domain_is_deferred_once_its_tokens_run_out() {
        let p = pacing();
        let mut tokens: HashMap<String, f64> = [("big.test".to_owned(), 1.5)].into_iter().collect();
        let out = grant_by_domain(
            &["big.test", "small.test", "big.test", "small.test"],
            &p,
            &mut tokens,
        );
        assert_eq!(out[0], None);
        assert_eq!(out[1], None, "unlimited domains are never deferred");
        let deferred = out[2].expect("second big.test row is deferred");
        assert!((deferred - 0.25).abs() < 1e-9, "{deferred}");
        assert_eq!(out[3], None);
    }
}
