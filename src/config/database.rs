//! `RESETGATE_DATABASE_URL` and the connection pool's limits.

use std::time::Duration;

use url::Url;

use super::env::Env;
use super::setting::{Group, Range, Setting, Unset};
use super::{err, ConfigError, Mode};
use crate::secret::SecretString;

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
            none of these.",
    settings: &[
        &DATABASE_URL,
        &DB_POOL_SIZE,
        &DB_ACQUIRE_TIMEOUT_MS,
        &DB_STATEMENT_TIMEOUT_MS,
        &MIGRATE_ON_START,
    ],
};

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// May contain a password: printed only through [`redact_url`].
    pub url: SecretString,
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
    let url = SecretString::new(url);
    env.show(&DATABASE_URL, &redact_url(&url));
    Ok(Some(DatabaseConfig {
        url,
        pool_size: env.get(&DB_POOL_SIZE)?,
        acquire_timeout: Duration::from_millis(env.get(&DB_ACQUIRE_TIMEOUT_MS)?),
        statement_timeout: Duration::from_millis(env.get(&DB_STATEMENT_TIMEOUT_MS)?),
        migrate_on_start: env.get(&MIGRATE_ON_START)?,
    }))
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
