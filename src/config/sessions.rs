//! Login sessions: how long one lives at most, how long it survives unused, and how many one
//! account may hold. OWASP Session Management: both an idle and an absolute timeout, enforced on
//! the server; a cap so a stolen password cannot mint sessions without bound.

use std::time::Duration;

use super::env::Env;
use super::setting::{Group, Range, Setting, Unset};
use super::{err, ConfigError};
use crate::reset::session::SessionPolicy;

/// Twelve hours: a working day signed in, and a stolen token dies by the next morning.
pub const DEFAULT_SESSION_TTL_SECS: u64 = 12 * 60 * 60;
/// Thirty minutes unused and the session ends (OWASP suggests 15–30 minutes for a service whose
/// sessions reach account settings, as these do).
pub const DEFAULT_SESSION_IDLE_SECS: u64 = 30 * 60;
/// Ten: a phone, a laptop, a tablet and a few browsers, with room to spare. The eleventh login
/// ends the account's oldest session, so nobody is ever locked out by the cap.
pub const DEFAULT_SESSIONS_PER_ACCOUNT: u32 = 10;

pub static SESSION_TTL_SECS: Setting<u64> = Setting {
    name: "RESETGATE_SESSION_TTL_SECS",
    doc: "Absolute lifetime of a login session, however busy.",
    unset: Unset::Default(DEFAULT_SESSION_TTL_SECS),
    bounds: Range::above(0),
    secret: false,
};
pub static SESSION_IDLE_SECS: Setting<u64> = Setting {
    name: "RESETGATE_SESSION_IDLE_SECS",
    doc: "A session not used for this long ends; each use restarts the count. At most RESETGATE_SESSION_TTL_SECS.",
    unset: Unset::Default(DEFAULT_SESSION_IDLE_SECS),
    bounds: Range::above(0),
    secret: false,
};
pub static SESSIONS_PER_ACCOUNT: Setting<u32> = Setting {
    name: "RESETGATE_SESSIONS_PER_ACCOUNT",
    doc: "Live sessions one account may hold; a new login beyond it ends the account's oldest.",
    unset: Unset::Default(DEFAULT_SESSIONS_PER_ACCOUNT),
    bounds: Range::between(1, 1000),
    secret: false,
};

pub(super) static GROUP: Group = Group {
    title: "Sessions",
    about: "Every limit is enforced in the database, so all replicas agree. `POST /v1/logout` (and the \
            pages' sign-out button) ends a session at once; a password reset can end all of them.",
    settings: &[&SESSION_TTL_SECS, &SESSION_IDLE_SECS, &SESSIONS_PER_ACCOUNT],
};

pub(super) fn parse(env: &Env<'_>) -> Result<SessionPolicy, ConfigError> {
    let policy = SessionPolicy {
        lifetime: Duration::from_secs(env.get(&SESSION_TTL_SECS)?),
        idle: Duration::from_secs(env.get(&SESSION_IDLE_SECS)?),
        per_account: env.get(&SESSIONS_PER_ACCOUNT)?,
    };
    if policy.idle > policy.lifetime {
        return Err(err(
            SESSION_IDLE_SECS.name,
            "must not exceed RESETGATE_SESSION_TTL_SECS",
        ));
    }
    Ok(policy)
}
