//! Typed configuration from `RESETGATE_*` environment variables, validated once at start. Each
//! default sits in a `DEFAULT_*` constant; a bad value is a [`ConfigError`] naming the variable,
//! which the CLI turns into exit code 64.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;
use rand::Rng as _;
use url::Url;

mod breach_day;

pub use breach_day::{AdminConfig, DispatchConfig};

use crate::admission::client_ip::{Cidr, ClientIp};
use crate::admission::rate_limit::RateLimitConfig;
use crate::campaign::runner::RunnerConfig;
use crate::hashing::hasher::HashMode;
use crate::hashing::params::{self, HashParams};
use crate::hashing::pool::PoolConfig;
use crate::reset::password::PasswordPolicy;
use crate::secret::SecretString;

pub mod smtp;

pub use smtp::{SmtpAuth, SmtpConfig, SmtpTls};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DB_POOL_SIZE: usize = 16;
/// Short: past this a database outage answers 503 instead of holding the request.
pub const DEFAULT_DB_ACQUIRE_TIMEOUT_MS: u64 = 1_000;
pub const DEFAULT_MIGRATE_ON_START: bool = true;
/// Longest a single SQL statement may run; the reset flow's statements take milliseconds.
pub const DEFAULT_DB_STATEMENT_TIMEOUT_MS: u64 = 5_000;
/// OWASP: reset tokens should be short-lived.
pub const DEFAULT_TOKEN_TTL_SECS: u64 = 30 * 60;
pub const DEFAULT_SESSION_TTL_SECS: u64 = 12 * 60 * 60;
pub const DEFAULT_PASSWORD_MIN_CHARS: usize = 15;
pub const DEFAULT_PASSWORD_MIN_CHARS_MFA: usize = 8;
pub const DEFAULT_PASSWORD_MAX_CHARS: usize = 256;
/// Floors config may not go below (NIST SP 800-63B).
pub const MIN_PASSWORD_CHARS: usize = 15;
pub const MIN_PASSWORD_CHARS_MFA: usize = 8;
pub const DEFAULT_BODY_LIMIT_BYTES: usize = 16 * 1024;
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 10_000;
pub const DEFAULT_DRAIN_TIMEOUT_MS: u64 = 30_000;
pub const DEFAULT_SHUTDOWN_DELAY_MS: u64 = 0;
/// Every reset request takes at least this long, known account or not, so timing does not reveal
/// whether an address has an account. Comfortably above the known-account path's database work.
pub const DEFAULT_RESET_FLOOR_MS: u64 = 150;
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1024;
/// A hashing job is refused at admission if it would wait longer than this in the queue.
pub const DEFAULT_HASH_QUEUE_BUDGET_MS: u64 = 100;
/// A job still queued this long after admission is answered 503 without hashing.
pub const DEFAULT_HASH_DEADLINE_MS: u64 = 500;
/// All API requests across clients; protects the database and the process, not hashing (the pool
/// guards that by its own measure).
pub const DEFAULT_RATE_GLOBAL_PER_SEC: u32 = 1000;
pub const DEFAULT_RATE_GLOBAL_BURST: u32 = 2000;
/// Per client address (IPv6 by /64): generous for a NAT of real users, tight for a script.
pub const DEFAULT_RATE_IP_PER_MIN: u32 = 60;
pub const DEFAULT_RATE_IP_BURST: u32 = 20;
/// Reset emails one address can trigger per hour, across replicas.
pub const DEFAULT_RATE_EMAIL_PER_HOUR: u32 = 3;
pub const DEFAULT_CLIENT_IP_HEADER: &str = "x-forwarded-for";
/// Metrics and probes, on loopback by default: /metrics must not be public.
pub const DEFAULT_OPS_LISTEN: &str = "127.0.0.1:9464";
pub const DEFAULT_MAIL_FROM: &str = "resetgate <no-reply@localhost>";
pub const DEFAULT_MAIL_POLL_MS: u64 = 500;
/// Minimum pepper length: 256 bits of key material.
pub const MIN_PEPPER_BYTES: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Production: PostgreSQL and an explicit pepper are required.
    Serve,
    /// Embedded default: in-memory store, random pepper, mail to stdout. Nothing is durable.
    Demo,
    /// `migrate`: only the database matters.
    Migrate,
    /// Operator commands that hash (`create-account`): database and pepper, no public URL.
    Admin,
}

impl Mode {
    fn needs_database(self) -> bool {
        !matches!(self, Self::Demo)
    }

    fn needs_pepper(self) -> bool {
        matches!(self, Self::Serve | Self::Admin)
    }

    /// `serve`: needs a public base URL and an explicit mail transport.
    fn is_production(self) -> bool {
        matches!(self, Self::Serve)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

fn err(var: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        message: message.into(),
    }
}

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// May contain a password: printed only through [`redact_url`].
    pub url: SecretString,
    pub pool_size: usize,
    pub acquire_timeout: Duration,
    pub statement_timeout: Duration,
    pub migrate_on_start: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailTransport {
    Log,
    File(PathBuf),
    Smtp(SmtpConfig),
}

#[derive(Debug, Clone)]
pub struct MailConfig {
    pub transport: MailTransport,
    pub from: String,
    pub poll_interval: Duration,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Mode,
    pub listen: SocketAddr,
    pub database: Option<DatabaseConfig>,
    pub public_base_url: Url,
    pub token_ttl: Duration,
    pub session_ttl: Duration,
    pub hash: HashParams,
    /// Hashing worker threads (W); each holds `m_kib` of memory for its life.
    pub hash_workers: usize,
    pub hash_queue_budget: Duration,
    pub hash_deadline: Duration,
    pub hash_mode: HashMode,
    pub pepper: SecretString,
    pub policy: PasswordPolicy,
    pub body_limit: usize,
    pub request_timeout: Duration,
    pub drain_timeout: Duration,
    /// Time between /readyz turning 503 and the listener closing, for load balancers to notice.
    pub shutdown_delay: Duration,
    pub reset_floor: Duration,
    pub max_in_flight: usize,
    pub rate_limits: RateLimitConfig,
    /// Listener for /metrics (and the probes), separate from the public API.
    pub ops_listen: SocketAddr,
    pub mail: MailConfig,
    pub admin: AdminConfig,
    pub dispatch: DispatchConfig,
    pub campaign: RunnerConfig,
}

/// Reads variables through `lookup` so tests can pass a map instead of mutating the process env.
struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl Env<'_> {
    fn raw(&self, var: &'static str) -> Option<String> {
        (self.lookup)(var)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn parse<T: std::str::FromStr>(&self, var: &'static str, default: T) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        match self.raw(var) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|e| err(var, format!("cannot parse {v:?}: {e}"))),
        }
    }

    fn positive<T: std::str::FromStr + PartialOrd + Default>(
        &self,
        var: &'static str,
        default: T,
    ) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        let v = self.parse(var, default)?;
        if v <= T::default() {
            return Err(err(var, "must be greater than zero"));
        }
        Ok(v)
    }

    fn millis(&self, var: &'static str, default: u64) -> Result<Duration, ConfigError> {
        self.parse(var, default).map(Duration::from_millis)
    }

    fn bool(&self, var: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.raw(var).as_deref().map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("1" | "true" | "yes" | "on") => Ok(true),
            Some("0" | "false" | "no" | "off") => Ok(false),
            Some(v) => Err(err(var, format!("expected true or false, got {v:?}"))),
        }
    }
}

fn rate_limits(env: &Env<'_>) -> Result<RateLimitConfig, ConfigError> {
    let nonzero = |var: &'static str, default: u32| -> Result<std::num::NonZeroU32, ConfigError> {
        std::num::NonZeroU32::new(env.parse(var, default)?)
            .ok_or_else(|| err(var, "must be greater than zero"))
    };
    let trusted_proxies = match env.raw("RESETGATE_TRUSTED_PROXIES") {
        None => Vec::new(),
        Some(list) => list
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(str::parse::<Cidr>)
            .collect::<Result<_, _>>()
            .map_err(|e| err("RESETGATE_TRUSTED_PROXIES", e.to_string()))?,
    };
    let header = env
        .raw("RESETGATE_CLIENT_IP_HEADER")
        .unwrap_or_else(|| DEFAULT_CLIENT_IP_HEADER.to_owned())
        .to_ascii_lowercase();
    if http::HeaderName::from_bytes(header.as_bytes()).is_err() {
        return Err(err("RESETGATE_CLIENT_IP_HEADER", "not a valid header name"));
    }
    Ok(RateLimitConfig {
        enabled: match env.raw("RESETGATE_RATE_LIMITS").as_deref() {
            None | Some("on") => true,
            // For load tests from one address only; never in production.
            Some("off") => false,
            Some(other) => {
                return Err(err(
                    "RESETGATE_RATE_LIMITS",
                    format!("expected on or off, got {other:?}"),
                ))
            }
        },
        global_per_sec: nonzero("RESETGATE_RATE_GLOBAL_PER_SEC", DEFAULT_RATE_GLOBAL_PER_SEC)?,
        global_burst: nonzero("RESETGATE_RATE_GLOBAL_BURST", DEFAULT_RATE_GLOBAL_BURST)?,
        ip_per_min: nonzero("RESETGATE_RATE_IP_PER_MIN", DEFAULT_RATE_IP_PER_MIN)?,
        ip_burst: nonzero("RESETGATE_RATE_IP_BURST", DEFAULT_RATE_IP_BURST)?,
        email_per_hour: nonzero("RESETGATE_RATE_EMAIL_PER_HOUR", DEFAULT_RATE_EMAIL_PER_HOUR)?.get(),
        client_ip: ClientIp {
            trusted_proxies,
            header,
        },
    })
}

fn random_pepper() -> SecretString {
    let mut bytes = [0u8; 32];
    UnwrapErr(SysRng).fill_bytes(&mut bytes);
    SecretString::new(URL_SAFE_NO_PAD.encode(bytes))
}

impl Config {
    /// Reads the real process environment.
    ///
    /// # Errors
    /// The first invalid or missing variable.
    pub fn from_env(mode: Mode) -> Result<Self, ConfigError> {
        Self::from_lookup(mode, &|k| std::env::var(k).ok())
    }

    /// # Errors
    /// The first invalid or missing variable.
    pub fn from_lookup(mode: Mode, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env { lookup };
        let listen = env.parse(
            "RESETGATE_LISTEN",
            DEFAULT_LISTEN
                .parse()
                .map_err(|_| err("RESETGATE_LISTEN", "bad default"))?,
        )?;

        let database = if mode.needs_database() {
            let url = env.raw("RESETGATE_DATABASE_URL").ok_or_else(|| {
                err(
                    "RESETGATE_DATABASE_URL",
                    "required (e.g. postgres://user@host/db)",
                )
            })?;
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err(err("RESETGATE_DATABASE_URL", "must be a postgres:// URL"));
            }
            Some(DatabaseConfig {
                url: SecretString::new(url),
                pool_size: env.positive("RESETGATE_DB_POOL_SIZE", DEFAULT_DB_POOL_SIZE)?,
                acquire_timeout: Duration::from_millis(
                    env.positive("RESETGATE_DB_ACQUIRE_TIMEOUT_MS", DEFAULT_DB_ACQUIRE_TIMEOUT_MS)?,
                ),
                statement_timeout: Duration::from_millis(env.positive(
                    "RESETGATE_DB_STATEMENT_TIMEOUT_MS",
                    DEFAULT_DB_STATEMENT_TIMEOUT_MS,
                )?),
                migrate_on_start: env.bool("RESETGATE_MIGRATE_ON_START", DEFAULT_MIGRATE_ON_START)?,
            })
        } else {
            None
        };

        let base = match (env.raw("RESETGATE_PUBLIC_BASE_URL"), mode.is_production()) {
            (Some(v), _) => v,
            // Links in the demo point at the demo itself (from config, never from a Host header).
            (None, false) => format!("http://{listen}/"),
            (None, true) => {
                return Err(err(
                    "RESETGATE_PUBLIC_BASE_URL",
                    "required by `serve`: reset links are built from it, never from the Host header",
                ))
            }
        };
        let mut public_base_url =
            Url::parse(&base).map_err(|e| err("RESETGATE_PUBLIC_BASE_URL", format!("not a URL: {e}")))?;
        if !matches!(public_base_url.scheme(), "http" | "https") || public_base_url.host().is_none() {
            return Err(err(
                "RESETGATE_PUBLIC_BASE_URL",
                "must be an http(s) URL with a host",
            ));
        }
        // Reset links carry a bearer token: in production they travel over TLS. Loopback is the
        // exception, for a serve run on a developer's machine.
        let loopback = match public_base_url.host() {
            Some(url::Host::Domain(d)) => d == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        if mode.is_production() && public_base_url.scheme() != "https" && !loopback {
            return Err(err(
                "RESETGATE_PUBLIC_BASE_URL",
                "must be https (reset links carry a token); http is allowed only for loopback",
            ));
        }
        if public_base_url.query().is_some() || public_base_url.fragment().is_some() {
            return Err(err(
                "RESETGATE_PUBLIC_BASE_URL",
                "must not have a query or fragment",
            ));
        }
        // A trailing slash makes `join("reset")` append rather than replace the last segment.
        if !public_base_url.path().ends_with('/') {
            let p = format!("{}/", public_base_url.path());
            public_base_url.set_path(&p);
        }

        let hash = HashParams::new(
            env.parse("RESETGATE_ARGON2_M_KIB", params::DEFAULT_M_KIB)?,
            env.parse("RESETGATE_ARGON2_T", params::DEFAULT_T)?,
            env.parse("RESETGATE_ARGON2_P", params::DEFAULT_P)?,
        )
        .map_err(|e| err("RESETGATE_ARGON2_*", e.to_string()))?;
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);

        let pepper = match (env.raw("RESETGATE_PEPPER"), env.raw("RESETGATE_PEPPER_FILE")) {
            (Some(_), Some(_)) => {
                return Err(err(
                    "RESETGATE_PEPPER",
                    "set RESETGATE_PEPPER or RESETGATE_PEPPER_FILE, not both",
                ))
            }
            (Some(p), None) => SecretString::new(p),
            (None, Some(path)) => {
                let raw = std::fs::read_to_string(&path)
                    .map_err(|e| err("RESETGATE_PEPPER_FILE", format!("cannot read {path}: {e}")))?;
                SecretString::new(raw.trim_end_matches(['\n', '\r']).to_owned())
            }
            (None, None) if mode.needs_pepper() => {
                return Err(err(
                    "RESETGATE_PEPPER",
                    "required (or RESETGATE_PEPPER_FILE); at least 32 bytes, e.g. `openssl rand -hex 32`",
                ))
            }
            (None, None) => random_pepper(),
        };
        if pepper.expose().len() < MIN_PEPPER_BYTES {
            return Err(err(
                "RESETGATE_PEPPER",
                format!("must be at least {MIN_PEPPER_BYTES} bytes"),
            ));
        }

        let policy = PasswordPolicy {
            min_chars: env.parse("RESETGATE_PASSWORD_MIN_CHARS", DEFAULT_PASSWORD_MIN_CHARS)?,
            min_chars_with_mfa: env
                .parse("RESETGATE_PASSWORD_MIN_CHARS_MFA", DEFAULT_PASSWORD_MIN_CHARS_MFA)?,
            max_chars: env.parse("RESETGATE_PASSWORD_MAX_CHARS", DEFAULT_PASSWORD_MAX_CHARS)?,
        };
        // NIST SP 800-63B: passwords used as a single factor are at least 15 characters, those used
        // with a second factor at least 8; verifiers accept at least 64. Config may only tighten.
        if policy.min_chars < MIN_PASSWORD_CHARS {
            return Err(err(
                "RESETGATE_PASSWORD_MIN_CHARS",
                format!("may not be below {MIN_PASSWORD_CHARS} (NIST SP 800-63B, single factor)"),
            ));
        }
        if policy.min_chars_with_mfa < MIN_PASSWORD_CHARS_MFA {
            return Err(err(
                "RESETGATE_PASSWORD_MIN_CHARS_MFA",
                format!("may not be below {MIN_PASSWORD_CHARS_MFA} (NIST SP 800-63B, with MFA)"),
            ));
        }
        if policy.min_chars_with_mfa > policy.max_chars {
            return Err(err(
                "RESETGATE_PASSWORD_MIN_CHARS_MFA",
                "must not exceed RESETGATE_PASSWORD_MAX_CHARS",
            ));
        }
        if policy.max_chars < 64 || policy.max_chars > crate::reset::password::HARD_MAX_BYTES {
            return Err(err("RESETGATE_PASSWORD_MAX_CHARS", "must be between 64 and 1024"));
        }
        if policy.min_chars > policy.max_chars {
            return Err(err(
                "RESETGATE_PASSWORD_MIN_CHARS",
                "must not exceed RESETGATE_PASSWORD_MAX_CHARS",
            ));
        }

        let transport = match env.raw("RESETGATE_MAIL_TRANSPORT").as_deref() {
            // Production must choose: a silent default of `log` would print reset links to stdout.
            None if mode.is_production() => return Err(err(
                "RESETGATE_MAIL_TRANSPORT",
                "required by `serve`: `smtp` (with RESETGATE_SMTP_HOST), `file` (with RESETGATE_MAIL_FILE) \
                     or `log` (prints reset links to stdout)",
            )),
            None | Some("log") => MailTransport::Log,
            Some("file") => MailTransport::File(
                env.raw("RESETGATE_MAIL_FILE")
                    .ok_or_else(|| {
                        err(
                            "RESETGATE_MAIL_FILE",
                            "required when RESETGATE_MAIL_TRANSPORT=file",
                        )
                    })?
                    .into(),
            ),
            Some("smtp") => MailTransport::Smtp(smtp::parse(&env)?),
            Some(other) => {
                return Err(err(
                    "RESETGATE_MAIL_TRANSPORT",
                    format!("expected smtp, file or log, got {other:?}"),
                ))
            }
        };

        let mail_from = env
            .raw("RESETGATE_MAIL_FROM")
            .unwrap_or_else(|| DEFAULT_MAIL_FROM.to_owned());
        // Parsed here so a bad sender fails at start, not on every send.
        if mail_from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(err(
                "RESETGATE_MAIL_FROM",
                format!("not a mailbox (e.g. `Example <no-reply@example.com>`): {mail_from:?}"),
            ));
        }

        let dispatch = breach_day::dispatch(&env)?;
        if let MailTransport::Smtp(smtp) = &transport {
            // A send still running when its lease ends could be claimed and sent again by another
            // dispatcher: the lease must outlast the longest send (three SMTP timeouts).
            if dispatch.lease < smtp.timeout * 3 + Duration::from_secs(1) {
                return Err(err(
                    "RESETGATE_MAIL_LEASE_MS",
                    "must exceed three times RESETGATE_SMTP_TIMEOUT_MS plus a second, so a send ends inside its lease",
                ));
            }
        }

        Ok(Self {
            mode,
            listen,
            database,
            public_base_url,
            token_ttl: Duration::from_secs(env.positive("RESETGATE_TOKEN_TTL_SECS", DEFAULT_TOKEN_TTL_SECS)?),
            session_ttl: Duration::from_secs(
                env.positive("RESETGATE_SESSION_TTL_SECS", DEFAULT_SESSION_TTL_SECS)?,
            ),
            hash,
            hash_workers: env.positive("RESETGATE_HASH_WORKERS", cores)?,
            hash_queue_budget: Duration::from_millis(
                env.positive("RESETGATE_HASH_QUEUE_BUDGET_MS", DEFAULT_HASH_QUEUE_BUDGET_MS)?,
            ),
            hash_deadline: Duration::from_millis(
                env.positive("RESETGATE_HASH_DEADLINE_MS", DEFAULT_HASH_DEADLINE_MS)?,
            ),
            hash_mode: match env.raw("RESETGATE_HASH_MODE").as_deref() {
                None | Some("pool") => HashMode::Pool,
                // Only for the load report's baseline: no bound, no admission.
                Some("unbounded") => HashMode::Unbounded,
                Some(other) => {
                    return Err(err(
                        "RESETGATE_HASH_MODE",
                        format!("expected pool (or unbounded, for baselines only), got {other:?}"),
                    ))
                }
            },
            pepper,
            policy,
            body_limit: env.positive("RESETGATE_BODY_LIMIT_BYTES", DEFAULT_BODY_LIMIT_BYTES)?,
            request_timeout: Duration::from_millis(
                env.positive("RESETGATE_REQUEST_TIMEOUT_MS", DEFAULT_REQUEST_TIMEOUT_MS)?,
            ),
            drain_timeout: env.millis("RESETGATE_DRAIN_TIMEOUT_MS", DEFAULT_DRAIN_TIMEOUT_MS)?,
            shutdown_delay: env.millis("RESETGATE_SHUTDOWN_DELAY_MS", DEFAULT_SHUTDOWN_DELAY_MS)?,
            reset_floor: env.millis("RESETGATE_RESET_FLOOR_MS", DEFAULT_RESET_FLOOR_MS)?,
            max_in_flight: env.positive("RESETGATE_MAX_IN_FLIGHT", DEFAULT_MAX_IN_FLIGHT)?,
            rate_limits: rate_limits(&env)?,
            ops_listen: env.parse(
                "RESETGATE_OPS_LISTEN",
                DEFAULT_OPS_LISTEN
                    .parse()
                    .map_err(|_| err("RESETGATE_OPS_LISTEN", "bad default"))?,
            )?,
            mail: MailConfig {
                transport,
                from: mail_from,
                poll_interval: Duration::from_millis(
                    env.positive("RESETGATE_MAIL_POLL_MS", DEFAULT_MAIL_POLL_MS)?,
                ),
            },
            admin: breach_day::admin(&env)?,
            dispatch,
            campaign: breach_day::campaign(&env)?,
        })
    }
}

impl Config {
    /// The hashing pool's settings.
    #[must_use]
    pub fn pool(&self) -> PoolConfig {
        PoolConfig {
            workers: self.hash_workers,
            queue_budget: self.hash_queue_budget,
            job_deadline: self.hash_deadline,
            params: self.hash,
        }
    }
}

/// A database URL with its password replaced, for printing.
#[must_use]
pub fn redact_url(url: &SecretString) -> String {
    match Url::parse(url.expose()) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("[redacted]"));
            }
            u.to_string()
        }
        Err(_) => "[unparseable URL redacted]".to_owned(),
    }
}

impl fmt::Display for Config {
    /// The effective configuration as `VAR=value` lines, secrets redacted (for `check-config`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "# mode: {:?}", self.mode)?;
        writeln!(f, "RESETGATE_LISTEN={}", self.listen)?;
        if let Some(db) = &self.database {
            writeln!(f, "RESETGATE_DATABASE_URL={}", redact_url(&db.url))?;
            writeln!(f, "RESETGATE_DB_POOL_SIZE={}", db.pool_size)?;
            writeln!(
                f,
                "RESETGATE_DB_ACQUIRE_TIMEOUT_MS={}",
                db.acquire_timeout.as_millis()
            )?;
            writeln!(
                f,
                "RESETGATE_DB_STATEMENT_TIMEOUT_MS={}",
                db.statement_timeout.as_millis()
            )?;
            writeln!(f, "RESETGATE_MIGRATE_ON_START={}", db.migrate_on_start)?;
        } else {
            writeln!(
                f,
                "# RESETGATE_DATABASE_URL unused: in-memory store (NOT DURABLE)"
            )?;
        }
        writeln!(f, "RESETGATE_PUBLIC_BASE_URL={}", self.public_base_url)?;
        writeln!(f, "RESETGATE_TOKEN_TTL_SECS={}", self.token_ttl.as_secs())?;
        writeln!(f, "RESETGATE_SESSION_TTL_SECS={}", self.session_ttl.as_secs())?;
        writeln!(f, "RESETGATE_ARGON2_M_KIB={}", self.hash.m_kib)?;
        writeln!(f, "RESETGATE_ARGON2_T={}", self.hash.t)?;
        writeln!(f, "RESETGATE_ARGON2_P={}", self.hash.p)?;
        writeln!(f, "RESETGATE_HASH_WORKERS={}", self.hash_workers)?;
        writeln!(
            f,
            "RESETGATE_HASH_QUEUE_BUDGET_MS={}",
            self.hash_queue_budget.as_millis()
        )?;
        writeln!(f, "RESETGATE_HASH_DEADLINE_MS={}", self.hash_deadline.as_millis())?;
        writeln!(
            f,
            "RESETGATE_HASH_MODE={}",
            match self.hash_mode {
                HashMode::Pool => "pool",
                HashMode::Unbounded => "unbounded",
            }
        )?;
        writeln!(f, "RESETGATE_PEPPER=[redacted]")?;
        writeln!(f, "RESETGATE_PASSWORD_MIN_CHARS={}", self.policy.min_chars)?;
        writeln!(
            f,
            "RESETGATE_PASSWORD_MIN_CHARS_MFA={}",
            self.policy.min_chars_with_mfa
        )?;
        writeln!(f, "RESETGATE_PASSWORD_MAX_CHARS={}", self.policy.max_chars)?;
        writeln!(f, "RESETGATE_BODY_LIMIT_BYTES={}", self.body_limit)?;
        writeln!(
            f,
            "RESETGATE_REQUEST_TIMEOUT_MS={}",
            self.request_timeout.as_millis()
        )?;
        writeln!(f, "RESETGATE_DRAIN_TIMEOUT_MS={}", self.drain_timeout.as_millis())?;
        writeln!(
            f,
            "RESETGATE_SHUTDOWN_DELAY_MS={}",
            self.shutdown_delay.as_millis()
        )?;
        writeln!(f, "RESETGATE_RESET_FLOOR_MS={}", self.reset_floor.as_millis())?;
        writeln!(f, "RESETGATE_MAX_IN_FLIGHT={}", self.max_in_flight)?;
        let r = &self.rate_limits;
        writeln!(
            f,
            "RESETGATE_RATE_LIMITS={}",
            if r.enabled { "on" } else { "off" }
        )?;
        writeln!(f, "RESETGATE_RATE_GLOBAL_PER_SEC={}", r.global_per_sec)?;
        writeln!(f, "RESETGATE_RATE_GLOBAL_BURST={}", r.global_burst)?;
        writeln!(f, "RESETGATE_RATE_IP_PER_MIN={}", r.ip_per_min)?;
        writeln!(f, "RESETGATE_RATE_IP_BURST={}", r.ip_burst)?;
        writeln!(f, "RESETGATE_RATE_EMAIL_PER_HOUR={}", r.email_per_hour)?;
        let proxies: Vec<String> = r
            .client_ip
            .trusted_proxies
            .iter()
            .map(ToString::to_string)
            .collect();
        writeln!(f, "RESETGATE_TRUSTED_PROXIES={}", proxies.join(","))?;
        writeln!(f, "RESETGATE_CLIENT_IP_HEADER={}", r.client_ip.header)?;
        writeln!(f, "RESETGATE_OPS_LISTEN={}", self.ops_listen)?;
        match &self.mail.transport {
            MailTransport::Log => writeln!(f, "RESETGATE_MAIL_TRANSPORT=log")?,
            MailTransport::File(p) => {
                writeln!(f, "RESETGATE_MAIL_TRANSPORT=file")?;
                writeln!(f, "RESETGATE_MAIL_FILE={}", p.display())?;
            }
            MailTransport::Smtp(smtp) => {
                writeln!(f, "RESETGATE_MAIL_TRANSPORT=smtp")?;
                write!(f, "{smtp}")?;
            }
        }
        writeln!(f, "RESETGATE_MAIL_FROM={}", self.mail.from)?;
        writeln!(
            f,
            "RESETGATE_MAIL_POLL_MS={}",
            self.mail.poll_interval.as_millis()
        )?;
        breach_day::write(f, &self.admin, &self.dispatch, &self.campaign)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn serve(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(Mode::Serve, &move |k| map.get(k).cloned())
    }

    const OK: &[(&str, &str)] = &[
        ("RESETGATE_DATABASE_URL", "postgres://app:hunter2@db/resetgate"),
        ("RESETGATE_PEPPER", "0123456789abcdef0123456789abcdef"),
        ("RESETGATE_PUBLIC_BASE_URL", "https://example.com/account"),
        ("RESETGATE_MAIL_TRANSPORT", "log"),
    ];

    #[test]
    fn serve_defaults_and_redaction() {
        let c = serve(OK).unwrap();
        assert_eq!(c.token_ttl, Duration::from_secs(1800));
        assert_eq!(c.hash, HashParams::default());
        assert_eq!(c.public_base_url.as_str(), "https://example.com/account/");
        let shown = c.to_string();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("0123456789abcdef"), "{shown}");
        assert!(shown.contains("RESETGATE_PEPPER=[redacted]"));
    }

    #[test]
    fn serve_requires_database_pepper_and_base_url() {
        for missing in [
            "RESETGATE_DATABASE_URL",
            "RESETGATE_PEPPER",
            "RESETGATE_PUBLIC_BASE_URL",
            "RESETGATE_MAIL_TRANSPORT",
        ] {
            let vars: Vec<_> = OK.iter().copied().filter(|(k, _)| *k != missing).collect();
            assert_eq!(serve(&vars).unwrap_err().var, missing);
        }
    }

    #[test]
    fn the_mail_lease_must_outlast_a_send() {
        let mut vars = OK.to_vec();
        vars.retain(|(k, _)| *k != "RESETGATE_MAIL_TRANSPORT");
        vars.extend([
            ("RESETGATE_MAIL_TRANSPORT", "smtp"),
            ("RESETGATE_SMTP_HOST", "smtp.example.com"),
            ("RESETGATE_SMTP_TIMEOUT_MS", "10000"),
        ]);
        assert_eq!(serve(&vars).unwrap().dispatch.lease, Duration::from_secs(60));
        vars.push(("RESETGATE_MAIL_LEASE_MS", "30000"));
        assert_eq!(serve(&vars).unwrap_err().var, "RESETGATE_MAIL_LEASE_MS");
    }

    #[test]
    fn bad_values_name_their_variable() {
        let cases = [
            ("RESETGATE_ARGON2_M_KIB", "1024", "RESETGATE_ARGON2_*"),
            ("RESETGATE_TOKEN_TTL_SECS", "soon", "RESETGATE_TOKEN_TTL_SECS"),
            ("RESETGATE_TOKEN_TTL_SECS", "0", "RESETGATE_TOKEN_TTL_SECS"),
            ("RESETGATE_PEPPER", "short", "RESETGATE_PEPPER"),
            (
                "RESETGATE_PASSWORD_MAX_CHARS",
                "32",
                "RESETGATE_PASSWORD_MAX_CHARS",
            ),
            (
                "RESETGATE_PASSWORD_MIN_CHARS",
                "4",
                "RESETGATE_PASSWORD_MIN_CHARS",
            ),
            ("RESETGATE_LISTEN", "nowhere", "RESETGATE_LISTEN"),
            (
                "RESETGATE_PASSWORD_MIN_CHARS",
                "12",
                "RESETGATE_PASSWORD_MIN_CHARS",
            ),
            (
                "RESETGATE_PASSWORD_MIN_CHARS_MFA",
                "4",
                "RESETGATE_PASSWORD_MIN_CHARS_MFA",
            ),
            (
                "RESETGATE_PASSWORD_MIN_CHARS_MFA",
                "500",
                "RESETGATE_PASSWORD_MIN_CHARS_MFA",
            ),
            (
                "RESETGATE_PUBLIC_BASE_URL",
                "ftp://x",
                "RESETGATE_PUBLIC_BASE_URL",
            ),
            ("RESETGATE_MAIL_TRANSPORT", "pigeon", "RESETGATE_MAIL_TRANSPORT"),
        ];
        for (var, value, named) in cases {
            let mut vars: Vec<_> = OK.iter().copied().filter(|(k, _)| *k != var).collect();
            vars.push((var, value));
            assert_eq!(serve(&vars).unwrap_err().var, named, "{var}={value}");
        }
    }

    #[test]
    fn demo_needs_nothing() {
        let c = Config::from_lookup(Mode::Demo, &|_| None).unwrap();
        assert!(c.database.is_none());
        assert_eq!(c.pepper.expose().len(), 43);
        assert_eq!(c.mail.transport, MailTransport::Log);
    }
}
