//! The per-account login throttle (`reset::throttle`): how many wrong passwords are free, how long
//! the wait grows, and the hard limit NIST SP 800-63B sets.

use std::time::Duration;

use super::env::Env;
use super::setting::{Group, Range, Setting, Unset};
use super::ConfigError;
use crate::reset::throttle::LoginThrottle;

/// Five: typos and the old password or two an owner tries first cost nothing.
pub const DEFAULT_LOGIN_FREE_FAILURES: u32 = 5;
/// Fifteen minutes: a guesser gets about a hundred tries a day, an owner who finally remembers
/// waits at most this long.
pub const DEFAULT_LOGIN_MAX_DELAY_SECS: u64 = 900;
/// NIST SP 800-63B 5.2.2: no more than 100 consecutive failed attempts on one account.
pub const DEFAULT_LOGIN_MAX_FAILURES: u32 = 100;
/// The first wait after the free failures; each further failure doubles it.
pub const LOGIN_BASE_DELAY: Duration = Duration::from_secs(1);

pub static LOGIN_FREE_FAILURES: Setting<u32> = Setting {
    name: "RESETGATE_LOGIN_FREE_FAILURES",
    doc: "Wrong passwords in a row for one address before its tries are slowed.",
    unset: Unset::Default(DEFAULT_LOGIN_FREE_FAILURES),
    bounds: Range::between(1, 50),
    secret: false,
};
pub static LOGIN_MAX_DELAY_SECS: Setting<u64> = Setting {
    name: "RESETGATE_LOGIN_MAX_DELAY_SECS",
    doc: "Longest wait between two tries for one address; from 1 s after the free failures, the wait doubles with each failure up to this.",
    unset: Unset::Default(DEFAULT_LOGIN_MAX_DELAY_SECS),
    bounds: Range::between(1, 86_400),
    secret: false,
};
pub static LOGIN_MAX_FAILURES: Setting<u32> = Setting {
    name: "RESETGATE_LOGIN_MAX_FAILURES",
    doc: "Wrong passwords in a row after which an address takes no tries until a day passes without one or its password is reset (NIST SP 800-63B allows at most 100).",
    unset: Unset::Default(DEFAULT_LOGIN_MAX_FAILURES),
    bounds: Range::between(1, 100),
    secret: false,
};

pub(super) static GROUP: Group = Group {
    title: "Login throttle",
    about: "Counted per address (a keyed digest), account or not, in the database, so every replica agrees \
            and an unknown address is throttled exactly like a known one. A right password or a password \
            reset clears the count. A throttled try answers `429 rate_limited` with `limiter: \"account\"` \
            and `Retry-After`, before any hashing.",
    settings: &[&LOGIN_FREE_FAILURES, &LOGIN_MAX_DELAY_SECS, &LOGIN_MAX_FAILURES],
};

pub(super) fn parse(env: &Env<'_>) -> Result<LoginThrottle, ConfigError> {
    Ok(LoginThrottle {
        free_failures: env.get(&LOGIN_FREE_FAILURES)?,
        base_delay: LOGIN_BASE_DELAY,
        max_delay: Duration::from_secs(env.get(&LOGIN_MAX_DELAY_SECS)?),
        max_failures: env.get(&LOGIN_MAX_FAILURES)?,
    })
}
