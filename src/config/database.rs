//! `RESETGATE_DATABASE_URL` and the connection pool's limits.

use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use super::env::Env;
use super::setting::{Group, Range, Setting, Unset};
use super::{err, ConfigError, Mode};
use crate::secret::SecretString;
use crate::storage::postgres::tls::{DbTls, TlsConfigError};

pub const DEFAULT_DB_POOL_SIZE: usize = 16;
/// Short: past this a database outage answers 503 instead of holding the request.
pub const DEFAULT_DB_ACQUIRE_TIMEOUT_MS: u64 = 1_000;
/// Longest a single SQL statement may run; the reset flow's statements take milliseconds.
pub const DEFAULT_DB_STATEMENT_TIMEOUT_MS: u64 = 5_000;
pub const DEFAULT_MIGRATE_ON_START: bool = true;

pub static DATABASE_URL: Setting<String> = Setting {
    name: "RESETGATE_DATABASE_URL",
    doc: "PostgreSQL to use, `postgres://` or `postgresql://`; its password is redacted by `check-config`.",
    unset: Unset::Means("required by every command but `demo`"),
    bounds: (),
    secret: false,
};
pub static DATABASE_CA_FILE: Setting<PathBuf> = Setting {
    name: "RESETGATE_DATABASE_CA_FILE",
    doc: "PEM file of the CA certificates PostgreSQL's certificate must chain to (with `sslmode=verify-full`, the default for a database on another host).",
    unset: Unset::Means("the public web roots, for verify-full"),
    bounds: (),
    secret: false,
};
pub static DB_POOL_SIZE: Setting<usize> = Setting {
    name: "RESETGATE_DB_POOL_SIZE",
    doc: "Most PostgreSQL connections the gateway holds.",
    unset: Unset::Default(DEFAULT_DB_POOL_SIZE),
    bounds: Range::above(0),
    secret: false,
};
pub static DB_ACQUIRE_TIMEOUT_MS: Setting<u64> = Setting {
    name: "RESETGATE_DB_ACQUIRE_TIMEOUT_MS",
    doc: "Limit on waiting for a pool connection, connecting or recycling: a database outage becomes a fast 503.",
    unset: Unset::Default(DEFAULT_DB_ACQUIRE_TIMEOUT_MS),
    bounds: Range::above(0),
    secret: false,
};
pub static DB_STATEMENT_TIMEOUT_MS: Setting<u64> = Setting {
    name: "RESETGATE_DB_STATEMENT_TIMEOUT_MS",
    doc:
        "Server-side limit on one SQL statement; one stuck on a lock is cancelled and its connection returns.",
    unset: Unset::Default(DEFAULT_DB_STATEMENT_TIMEOUT_MS),
    bounds: Range::above(0),
    secret: false,
};
pub static MIGRATE_ON_START: Setting<bool> = Setting {
    name: "RESETGATE_MIGRATE_ON_START",
    doc: "Whether `serve` and `create-account` apply migrations before starting.",
    unset: Unset::Default(DEFAULT_MIGRATE_ON_START),
    bounds: (),
    secret: false,
};

pub(super) static GROUP: Group = Group {
    title: "Database",
    about: "Every command but `demo` runs on PostgreSQL; `demo` keeps everything in memory and reads \
            none of these. TLS (rustls) follows the URL's `sslmode`: `verify-full` (the default, and \
            the production setting: the certificate must chain to `RESETGATE_DATABASE_CA_FILE` and \
            name the host), `require` (encrypted, unverified) or `disable` (the default only for a \
            database on loopback or a Unix socket). `prefer`, `allow` and `verify-ca` are refused.",
    settings: &[
        &DATABASE_URL,
        &DATABASE_CA_FILE,
        &DB_POOL_SIZE,
        &DB_ACQUIRE_TIMEOUT_MS,
        &DB_STATEMENT_TIMEOUT_MS,
        &MIGRATE_ON_START,
    ],
};

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// May contain a password: printed only through [`redact_url`]. Without `sslmode`, which
    /// `tls` carries (tokio-postgres knows only disable, prefer and require).
    pub url: SecretString,
    pub tls: DbTls,
    pub pool_size: usize,
    pub acquire_timeout: Duration,
    pub statement_timeout: Duration,
    pub migrate_on_start: bool,
}

pub(super) fn parse(env: &Env<'_>, mode: Mode) -> Result<Option<DatabaseConfig>, ConfigError> {
    if !mode.needs_database() {
        env.note(&DATABASE_URL, "unused: in-memory store (NOT DURABLE)");
        return Ok(None);
    }
    let url = env
        .opt(&DATABASE_URL)?
        .ok_or_else(|| err(DATABASE_URL.name, "required (e.g. postgres://user@host/db)"))?;
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(err(DATABASE_URL.name, "must be a postgres:// URL"));
    }
    let shown = redact_url(&SecretString::new(url.clone()));
    let (url, tls) = split_tls(&url, env.opt(&DATABASE_CA_FILE)?)?;
    env.show(&DATABASE_URL, &shown);
    Ok(Some(DatabaseConfig {
        url,
        tls,
        pool_size: env.get(&DB_POOL_SIZE)?,
        acquire_timeout: Duration::from_millis(env.get(&DB_ACQUIRE_TIMEOUT_MS)?),
        statement_timeout: Duration::from_millis(env.get(&DB_STATEMENT_TIMEOUT_MS)?),
        migrate_on_start: env.get(&MIGRATE_ON_START)?,
    }))
}

/// The URL without `sslmode`, and the TLS it asks for. The default depends on where the
/// database is: this machine (loopback, or a Unix socket through `host=/path`) or elsewhere.
fn split_tls(raw: &str, ca_file: Option<PathBuf>) -> Result<(SecretString, DbTls), ConfigError> {
    let mut u = Url::parse(raw).map_err(|_| err(DATABASE_URL.name, "is not a valid URL"))?;
    let mut sslmode = None;
    let mut socket = false;
    let kept: Vec<(String, String)> = u
        .query_pairs()
        .filter_map(|(k, v)| {
            if k.eq_ignore_ascii_case("sslmode") {
                sslmode = Some(v.into_owned());
                return None;
            }
            if k == "host" && v.starts_with('/') {
                socket = true;
            }
            Some((k.into_owned(), v.into_owned()))
        })
        .collect();
    let local = socket
        || match u.host() {
            None => true,
            // postgres:// is not a special scheme to the url crate, so an IP comes as text.
            Some(url::Host::Domain(d)) => {
                d.eq_ignore_ascii_case("localhost")
                    || d.trim_matches(['[', ']'])
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            }
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        };
    if kept.is_empty() {
        u.set_query(None);
    } else {
        u.query_pairs_mut().clear().extend_pairs(kept);
    }
    let tls = DbTls::parse(sslmode.as_deref(), ca_file, local).map_err(|e| {
        let var = if matches!(e, TlsConfigError::CaWithoutVerify) {
            DATABASE_CA_FILE.name
        } else {
            DATABASE_URL.name
        };
        err(var, e.to_string())
    })?;
    // A bad CA file fails here, at start, not at the first connection.
    tls.connector()
        .map_err(|e| err(DATABASE_CA_FILE.name, e.to_string()))?;
    Ok((SecretString::new(u.to_string()), tls))
}

/// Query parameters of a PostgreSQL URL that carry a secret (libpq accepts both forms).
const SECRET_QUERY_KEYS: &[&str] = &["password", "sslpassword"];

/// A database URL with its password replaced, for printing: in the userinfo and in the query,
/// where libpq also takes it (`?password=...`).
#[must_use]
pub fn redact_url(url: &SecretString) -> String {
    match Url::parse(url.expose()) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("[redacted]"));
            }
            if u.query().is_some() {
                let pairs: Vec<(String, String)> = u
                    .query_pairs()
                    .map(|(k, v)| {
                        let secret = SECRET_QUERY_KEYS.iter().any(|s| k.eq_ignore_ascii_case(s));
                        (
                            k.into_owned(),
                            if secret {
                                "[redacted]".to_owned()
                            } else {
                                v.into_owned()
                            },
                        )
                    })
                    .collect();
                u.query_pairs_mut().clear().extend_pairs(pairs);
            }
            u.to_string()
        }
        Err(_) => "[unparseable URL redacted]".to_owned(),
    }
}
