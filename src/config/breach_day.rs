//! The breach-day settings: the admin listener and its token, the mail send budget and retry
//! policy, and the campaign runner's batch sizes.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use super::{err, ConfigError, Env};
use crate::campaign::runner::RunnerConfig;
use crate::mail::pacing::Pacing;

/// Admin API on its own loopback port: never behind the public load balancer by accident.
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:9465";
/// A conservative start for a fresh sending domain; raise it with the provider's blessing.
pub const DEFAULT_MAIL_RATE_PER_SEC: f64 = 50.0;
pub const DEFAULT_MAIL_CONCURRENCY: usize = 4;
pub const DEFAULT_MAIL_RETRY_BASE_MS: u64 = 2000;
pub const DEFAULT_MAIL_MAX_ATTEMPTS: i32 = 8;
/// How long a claimed message stays invisible to other dispatchers. Must outlast one send (see
/// `Config::from_lookup`); after a crash, the dead dispatcher's messages wait this long.
pub const DEFAULT_MAIL_LEASE_MS: u64 = 60_000;
/// 20 000 accounts per marking transaction: a few hundred ms each, so a million take ~50 short
/// transactions and each redone batch after a crash is small.
pub const DEFAULT_CAMPAIGN_MARK_BATCH: i64 = 20_000;
pub const DEFAULT_CAMPAIGN_ENQUEUE_BATCH: i64 = 1000;
pub const DEFAULT_CAMPAIGN_OUTBOX_WINDOW: i64 = 5000;
pub const DEFAULT_CAMPAIGN_POLL_MS: u64 = 1000;

#[derive(Debug, Clone)]
pub struct AdminConfig {
    pub listen: SocketAddr,
    /// SHA-256 of the admin bearer token. `None`: the admin API is off. Only the digest is
    /// configured, so a leaked config file or process listing does not leak the token.
    pub token_sha256: Option<[u8; 32]>,
}

#[derive(Debug, Clone)]
pub struct DispatchConfig {
    pub pacing: Pacing,
    pub concurrency: usize,
    pub retry_base: Duration,
    pub max_attempts: i32,
    pub lease: Duration,
}

fn rate(env: &Env<'_>, var: &'static str, default: f64) -> Result<f64, ConfigError> {
    let v: f64 = env.parse(var, default)?;
    if !(v.is_finite() && v > 0.0) {
        return Err(err(var, "must be a positive number of messages per second"));
    }
    Ok(v)
}

fn domain_rates(raw: &str) -> Result<HashMap<String, f64>, ConfigError> {
    const VAR: &str = "RESETGATE_MAIL_DOMAIN_RATES";
    raw.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|pair| {
            let (domain, rate) = pair
                .split_once('=')
                .ok_or_else(|| err(VAR, format!("expected domain=rate, got {pair:?}")))?;
            let domain = domain.trim().to_ascii_lowercase();
            let rate: f64 = rate
                .trim()
                .parse()
                .map_err(|_| err(VAR, format!("rate of {domain} is not a number")))?;
            if domain.is_empty() || !(rate.is_finite() && rate > 0.0) {
                return Err(err(VAR, format!("bad entry {pair:?}")));
            }
            Ok((domain, rate))
        })
        .collect()
}

fn hex32(var: &'static str, raw: &str) -> Result<[u8; 32], ConfigError> {
    let bytes = (0..raw.len())
        .step_by(2)
        .map(|i| raw.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect::<Option<Vec<u8>>>()
        .filter(|_| raw.len() == 64)
        .ok_or_else(|| {
            err(
                var,
                "must be 64 hex digits (the SHA-256 of the token; see `resetgate admin-token`)",
            )
        })?;
    bytes.try_into().map_err(|_| err(var, "must be 64 hex digits"))
}

pub(super) fn admin(env: &Env<'_>) -> Result<AdminConfig, ConfigError> {
    Ok(AdminConfig {
        listen: env.parse(
            "RESETGATE_ADMIN_LISTEN",
            DEFAULT_ADMIN_LISTEN
                .parse()
                .map_err(|_| err("RESETGATE_ADMIN_LISTEN", "bad default"))?,
        )?,
        token_sha256: env
            .raw("RESETGATE_ADMIN_TOKEN_SHA256")
            .map(|h| hex32("RESETGATE_ADMIN_TOKEN_SHA256", &h.to_ascii_lowercase()))
            .transpose()?,
    })
}

pub(super) fn dispatch(env: &Env<'_>) -> Result<DispatchConfig, ConfigError> {
    let global = rate(env, "RESETGATE_MAIL_RATE_PER_SEC", DEFAULT_MAIL_RATE_PER_SEC)?;
    // A fifth of a second of budget: absorbs claim-to-claim jitter without letting an idle spell
    // turn into a burst that skews the per-minute rate.
    let burst = rate(env, "RESETGATE_MAIL_BURST", (global / 5.0).max(1.0))?;
    if burst < 1.0 {
        return Err(err("RESETGATE_MAIL_BURST", "must be at least 1"));
    }
    let domain_default = env
        .raw("RESETGATE_MAIL_DOMAIN_RATE_PER_SEC")
        .map(|_| rate(env, "RESETGATE_MAIL_DOMAIN_RATE_PER_SEC", 1.0))
        .transpose()?;
    let max_attempts: i32 = env.positive("RESETGATE_MAIL_MAX_ATTEMPTS", DEFAULT_MAIL_MAX_ATTEMPTS)?;
    Ok(DispatchConfig {
        pacing: Pacing {
            rate: global,
            burst,
            domain_default,
            domain_rates: env
                .raw("RESETGATE_MAIL_DOMAIN_RATES")
                .map(|r| domain_rates(&r))
                .transpose()?
                .unwrap_or_default(),
        },
        concurrency: env.positive("RESETGATE_MAIL_CONCURRENCY", DEFAULT_MAIL_CONCURRENCY)?,
        retry_base: Duration::from_millis(
            env.positive("RESETGATE_MAIL_RETRY_BASE_MS", DEFAULT_MAIL_RETRY_BASE_MS)?,
        ),
        max_attempts,
        lease: Duration::from_millis(env.positive("RESETGATE_MAIL_LEASE_MS", DEFAULT_MAIL_LEASE_MS)?),
    })
}

pub(super) fn campaign(env: &Env<'_>) -> Result<RunnerConfig, ConfigError> {
    Ok(RunnerConfig {
        mark_batch: env.positive("RESETGATE_CAMPAIGN_MARK_BATCH", DEFAULT_CAMPAIGN_MARK_BATCH)?,
        enqueue_batch: env.positive("RESETGATE_CAMPAIGN_ENQUEUE_BATCH", DEFAULT_CAMPAIGN_ENQUEUE_BATCH)?,
        outbox_window: env.positive("RESETGATE_CAMPAIGN_OUTBOX_WINDOW", DEFAULT_CAMPAIGN_OUTBOX_WINDOW)?,
        poll_interval: Duration::from_millis(
            env.positive("RESETGATE_CAMPAIGN_POLL_MS", DEFAULT_CAMPAIGN_POLL_MS)?,
        ),
    })
}

/// The `check-config` lines of these settings (the token digest is not a secret, but it is not
/// useful to print either).
pub(super) fn write(
    f: &mut fmt::Formatter<'_>,
    admin: &AdminConfig,
    d: &DispatchConfig,
    c: &RunnerConfig,
) -> fmt::Result {
    writeln!(f, "RESETGATE_ADMIN_LISTEN={}", admin.listen)?;
    writeln!(
        f,
        "RESETGATE_ADMIN_TOKEN_SHA256={}",
        if admin.token_sha256.is_some() {
            "(set)"
        } else {
            "(unset: admin API off)"
        }
    )?;
    writeln!(f, "RESETGATE_MAIL_RATE_PER_SEC={}", d.pacing.rate)?;
    writeln!(f, "RESETGATE_MAIL_BURST={}", d.pacing.burst)?;
    match d.pacing.domain_default {
        Some(r) => writeln!(f, "RESETGATE_MAIL_DOMAIN_RATE_PER_SEC={r}")?,
        None => writeln!(
            f,
            "RESETGATE_MAIL_DOMAIN_RATE_PER_SEC=(unset: global budget only)"
        )?,
    }
    let mut rates: Vec<String> = d
        .pacing
        .domain_rates
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    rates.sort();
    writeln!(f, "RESETGATE_MAIL_DOMAIN_RATES={}", rates.join(","))?;
    writeln!(f, "RESETGATE_MAIL_CONCURRENCY={}", d.concurrency)?;
    writeln!(f, "RESETGATE_MAIL_RETRY_BASE_MS={}", d.retry_base.as_millis())?;
    writeln!(f, "RESETGATE_MAIL_MAX_ATTEMPTS={}", d.max_attempts)?;
    writeln!(f, "RESETGATE_MAIL_LEASE_MS={}", d.lease.as_millis())?;
    writeln!(f, "RESETGATE_CAMPAIGN_MARK_BATCH={}", c.mark_batch)?;
    writeln!(f, "RESETGATE_CAMPAIGN_ENQUEUE_BATCH={}", c.enqueue_batch)?;
    writeln!(f, "RESETGATE_CAMPAIGN_OUTBOX_WINDOW={}", c.outbox_window)?;
    writeln!(f, "RESETGATE_CAMPAIGN_POLL_MS={}", c.poll_interval.as_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn send_budget_defaults_and_overrides() {
        let lookup = env(&[]);
        let d = dispatch(&Env { lookup: &lookup }).unwrap();
        assert!((d.pacing.rate - 50.0).abs() < f64::EPSILON);
        assert!((d.pacing.burst - 10.0).abs() < f64::EPSILON);
        assert_eq!(d.pacing.domain_rate("gmail.com"), None);
        let lookup = env(&[
            ("RESETGATE_MAIL_RATE_PER_SEC", "200"),
            ("RESETGATE_MAIL_DOMAIN_RATE_PER_SEC", "20"),
            ("RESETGATE_MAIL_DOMAIN_RATES", "Gmail.com=5, yahoo.com=2.5"),
        ]);
        let d = dispatch(&Env { lookup: &lookup }).unwrap();
        assert_eq!(d.pacing.domain_rate("gmail.com"), Some(5.0));
        assert_eq!(d.pacing.domain_rate("yahoo.com"), Some(2.5));
        assert_eq!(d.pacing.domain_rate("other.test"), Some(20.0));
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (var, value) in [
            ("RESETGATE_MAIL_RATE_PER_SEC", "0"),
            ("RESETGATE_MAIL_RATE_PER_SEC", "NaN"),
            ("RESETGATE_MAIL_DOMAIN_RATES", "gmail.com"),
            ("RESETGATE_MAIL_DOMAIN_RATES", "gmail.com=-1"),
        ] {
            let lookup = env(&[(var, value)]);
            assert_eq!(
                dispatch(&Env { lookup: &lookup }).unwrap_err().var,
                var,
                "{var}={value}"
            );
        }
        let lookup = env(&[("RESETGATE_ADMIN_TOKEN_SHA256", "abc")]);
        assert_eq!(
            admin(&Env { lookup: &lookup }).unwrap_err().var,
            "RESETGATE_ADMIN_TOKEN_SHA256"
        );
        let digest = "ab".repeat(32);
        let lookup = env(&[("RESETGATE_ADMIN_TOKEN_SHA256", digest.as_str())]);
        assert_eq!(
            admin(&Env { lookup: &lookup }).unwrap().token_sha256,
            Some([0xab; 32])
        );
    }
}
