//! The outbox dispatcher: the send budget shared by every replica, concurrency, retries and the
//! lease that keeps two dispatchers from sending one message.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::time::Duration;

use super::env::Env;
use super::mail::MailTransport;
use super::setting::{Group, Range, Setting, Unset, Value};
use super::{err, ConfigError};
use crate::mail::pacing::Pacing;

/// A conservative start for a fresh sending domain; raise it with the provider's blessing.
pub const DEFAULT_MAIL_RATE_PER_SEC: f64 = 50.0;
pub const DEFAULT_MAIL_CONCURRENCY: usize = 4;
pub const DEFAULT_MAIL_RETRY_BASE_MS: u64 = 2000;
pub const DEFAULT_MAIL_MAX_ATTEMPTS: i32 = 8;
/// How long a claimed message stays invisible to other dispatchers. Must outlast one send (see
/// [`parse`]); after a crash, the dead dispatcher's messages wait this long.
pub const DEFAULT_MAIL_LEASE_MS: u64 = 60_000;

pub static MAIL_RATE_PER_SEC: Setting<f64> = Setting {
    name: "RESETGATE_MAIL_RATE_PER_SEC",
    doc: "The global send budget in messages per second, shared by every replica (give them all the same value).",
    unset: Unset::Default(DEFAULT_MAIL_RATE_PER_SEC),
    bounds: Range::above(0.0),
    secret: false,
};
pub static MAIL_BURST: Setting<f64> = Setting {
    name: "RESETGATE_MAIL_BURST",
    doc: "Most messages the budget releases at once after an idle spell; small, so every minute stays near the rate.",
    unset: Unset::Computed("`RESETGATE_MAIL_RATE_PER_SEC` / 5, at least 1"),
    bounds: Range::at_least(1.0),
    secret: false,
};
pub static MAIL_DOMAIN_RATE_PER_SEC: Setting<f64> = Setting {
    name: "RESETGATE_MAIL_DOMAIN_RATE_PER_SEC",
    doc: "Per-recipient-domain budget for domains without an override in `RESETGATE_MAIL_DOMAIN_RATES`.",
    unset: Unset::Means("global budget only"),
    bounds: Range::above(0.0),
    secret: false,
};
pub static MAIL_DOMAIN_RATES: Setting<HashMap<String, f64>> = Setting {
    name: "RESETGATE_MAIL_DOMAIN_RATES",
    doc: "Per-domain budgets, e.g. `gmail.com=20,outlook.com=10`; a message over its domain's budget is pushed back.",
    unset: Unset::Means("no per-domain overrides"),
    bounds: (),
    secret: false,
};
pub static MAIL_CONCURRENCY: Setting<usize> = Setting {
    name: "RESETGATE_MAIL_CONCURRENCY",
    doc: "Messages one replica sends at once; at most `RESETGATE_SMTP_POOL_SIZE` (one connection carries ~20/s).",
    unset: Unset::Default(DEFAULT_MAIL_CONCURRENCY),
    bounds: Range::above(0),
    secret: false,
};
pub static MAIL_RETRY_BASE_MS: Setting<u64> = Setting {
    name: "RESETGATE_MAIL_RETRY_BASE_MS",
    doc: "First retry delay after a transient failure; doubles per attempt (25 % jitter, at most an hour).",
    unset: Unset::Default(DEFAULT_MAIL_RETRY_BASE_MS),
    bounds: Range::above(0),
    secret: false,
};
pub static MAIL_MAX_ATTEMPTS: Setting<i32> = Setting {
    name: "RESETGATE_MAIL_MAX_ATTEMPTS",
    doc: "Attempts before a message is `dead` (a permanent 55x refusal is dead at once).",
    unset: Unset::Default(DEFAULT_MAIL_MAX_ATTEMPTS),
    bounds: Range::above(0),
    secret: false,
};
pub static MAIL_LEASE_MS: Setting<u64> = Setting {
    name: "RESETGATE_MAIL_LEASE_MS",
    doc: "How long a claimed message is hidden from other dispatchers; after a crash its messages wait this long.",
    unset: Unset::Default(DEFAULT_MAIL_LEASE_MS),
    bounds: Range::above(0),
    secret: false,
};

pub(super) static GROUP: Group = Group {
    title: "Outbox dispatch",
    about: "With SMTP, `RESETGATE_MAIL_LEASE_MS` must exceed three times `RESETGATE_SMTP_TIMEOUT_MS` plus a \
            second, so a send always ends inside its lease.",
    settings: &[
        &MAIL_RATE_PER_SEC,
        &MAIL_BURST,
        &MAIL_DOMAIN_RATE_PER_SEC,
        &MAIL_DOMAIN_RATES,
        &MAIL_CONCURRENCY,
        &MAIL_RETRY_BASE_MS,
        &MAIL_MAX_ATTEMPTS,
        &MAIL_LEASE_MS,
    ],
};

impl<S: BuildHasher + Default + Clone + Send + Sync + 'static> Value for HashMap<String, f64, S> {
    type Bounds = ();

    fn kind() -> String {
        "comma-separated `domain=rate`".to_owned()
    }

    fn parse(raw: &str) -> Result<Self, String> {
        raw.split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|pair| {
                let (domain, rate) = pair
                    .split_once('=')
                    .ok_or_else(|| format!("expected domain=rate, got {pair:?}"))?;
                let domain = domain.trim().to_ascii_lowercase();
                let rate: f64 = rate
                    .trim()
                    .parse()
                    .map_err(|_| format!("rate of {domain} is not a number"))?;
                if domain.is_empty() || !(rate.is_finite() && rate > 0.0) {
                    return Err(format!("bad entry {pair:?}"));
                }
                Ok((domain, rate))
            })
            .collect()
    }

    fn show(&self) -> String {
        let mut rates: Vec<String> = self.iter().map(|(k, v)| format!("{k}={v}")).collect();
        rates.sort();
        rates.join(",")
    }
}

#[derive(Debug, Clone)]
pub struct DispatchConfig {
    pub pacing: Pacing,
    pub concurrency: usize,
    pub retry_base: Duration,
    pub max_attempts: i32,
    pub lease: Duration,
}

pub(super) fn parse(env: &Env<'_>, transport: &MailTransport) -> Result<DispatchConfig, ConfigError> {
    let rate = env.get(&MAIL_RATE_PER_SEC)?;
    // A fifth of a second of budget: absorbs claim-to-claim jitter without letting an idle spell
    // turn into a burst that skews the per-minute rate.
    let burst = env.get_or(&MAIL_BURST, || (rate / 5.0).max(1.0))?;
    let dispatch = DispatchConfig {
        pacing: Pacing {
            rate,
            burst,
            domain_default: env.opt(&MAIL_DOMAIN_RATE_PER_SEC)?,
            domain_rates: env.opt(&MAIL_DOMAIN_RATES)?.unwrap_or_default(),
        },
        concurrency: env.get(&MAIL_CONCURRENCY)?,
        retry_base: Duration::from_millis(env.get(&MAIL_RETRY_BASE_MS)?),
        max_attempts: env.get(&MAIL_MAX_ATTEMPTS)?,
        lease: Duration::from_millis(env.get(&MAIL_LEASE_MS)?),
    };
    if let MailTransport::Smtp(smtp) = transport {
        // A send still running when its lease ends could be claimed and sent again by another
        // dispatcher: the lease must outlast the longest send (three SMTP timeouts).
        if dispatch.lease < smtp.timeout * 3 + Duration::from_secs(1) {
            return Err(err(
                MAIL_LEASE_MS.name,
                "must exceed three times RESETGATE_SMTP_TIMEOUT_MS plus a second, so a send ends inside its lease",
            ));
        }
    }
    Ok(dispatch)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn dispatch(vars: &[(&str, &str)]) -> Result<DispatchConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let lookup = move |k: &str| map.get(k).cloned();
        parse(&Env::new(&lookup), &MailTransport::Log)
    }

    #[test]
    fn send_budget_defaults_and_overrides() {
        let d = dispatch(&[]).unwrap();
        assert!((d.pacing.rate - 50.0).abs() < f64::EPSILON);
        assert!((d.pacing.burst - 10.0).abs() < f64::EPSILON);
        assert_eq!(d.pacing.domain_rate("gmail.com"), None);
        let d = dispatch(&[
            ("RESETGATE_MAIL_RATE_PER_SEC", "200"),
            ("RESETGATE_MAIL_DOMAIN_RATE_PER_SEC", "20"),
            ("RESETGATE_MAIL_DOMAIN_RATES", "Gmail.com=5, yahoo.com=2.5"),
        ])
        .unwrap();
        assert_eq!(d.pacing.domain_rate("gmail.com"), Some(5.0));
        assert_eq!(d.pacing.domain_rate("yahoo.com"), Some(2.5));
        assert_eq!(d.pacing.domain_rate("other.test"), Some(20.0));
        // A small budget still releases one message at a time.
        assert!(
            (dispatch(&[("RESETGATE_MAIL_RATE_PER_SEC", "2")])
                .unwrap()
                .pacing
                .burst
                - 1.0)
                .abs()
                < 1e-9
        );
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (var, value) in [
            ("RESETGATE_MAIL_RATE_PER_SEC", "0"),
            ("RESETGATE_MAIL_RATE_PER_SEC", "NaN"),
            ("RESETGATE_MAIL_BURST", "0.5"),
            ("RESETGATE_MAIL_DOMAIN_RATE_PER_SEC", "-1"),
            ("RESETGATE_MAIL_DOMAIN_RATES", "gmail.com"),
            ("RESETGATE_MAIL_DOMAIN_RATES", "gmail.com=-1"),
            ("RESETGATE_MAIL_MAX_ATTEMPTS", "0"),
        ] {
            assert_eq!(dispatch(&[(var, value)]).unwrap_err().var, var, "{var}={value}");
        }
    }
}
