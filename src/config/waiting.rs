//! The waiting room: how shed answers spread retries and how long a ticket keeps a place
//! (docs/waiting-room.md has the formula).

use std::time::Duration;

use super::env::Env;
use super::setting::{Group, Range, Setting, Unset};
use super::{err, ConfigError};
use crate::waiting::line::Announce;
use crate::waiting::room::WaitConfig;

pub const DEFAULT_WAIT_MIN_RETRY_SECS: u64 = 1;
/// Ten minutes: a longer wait is better told as "come back in ten minutes" and then told again
/// more exactly, since the estimate sharpens as the line moves.
pub const DEFAULT_WAIT_MAX_RETRY_SECS: u64 = 600;
pub const DEFAULT_WAIT_JITTER: f64 = 0.1;
/// An hour: longer than any wait a breach-day line should reach with the pool sized right.
pub const DEFAULT_WAIT_MAX_AGE_SECS: u64 = 3600;
/// Two seconds: the front of the line is where whole-second Retry-After is too coarse. Every
/// client within a second or so of its turn would be told "1 s" and come back with all the
/// others so told, and the queue budget (~100 ms) holds only a few of them; in the population
/// simulation the first arrivals bounced five or six times that way. Held in the queue instead,
/// they are served in arrival order at the cost of an open request of at most this long, no
/// longer than the wait they would have been told.
pub const DEFAULT_WAIT_HOLD_MS: u64 = 2000;

pub static WAIT_MIN_RETRY_SECS: Setting<u64> = Setting {
    name: "RESETGATE_WAIT_MIN_RETRY_SECS",
    doc: "Shortest Retry-After a shed answer gives.",
    unset: Unset::Default(DEFAULT_WAIT_MIN_RETRY_SECS),
    bounds: Range::at_least(1),
    secret: false,
};
pub static WAIT_MAX_RETRY_SECS: Setting<u64> = Setting {
    name: "RESETGATE_WAIT_MAX_RETRY_SECS",
    doc: "Longest Retry-After a shed answer gives; a client further back is told this and, on its return, a closer estimate.",
    unset: Unset::Default(DEFAULT_WAIT_MAX_RETRY_SECS),
    bounds: Range::between(1, 86_400),
    secret: false,
};
pub static WAIT_JITTER: Setting<f64> = Setting {
    name: "RESETGATE_WAIT_JITTER",
    doc: "Returns are spread over this fraction of the announced wait, centred on it, so one moment's crowd does not come back as one wave.",
    unset: Unset::Default(DEFAULT_WAIT_JITTER),
    bounds: Range::between(0.0, 1.0),
    secret: false,
};
pub static WAIT_MAX_AGE_SECS: Setting<u64> = Setting {
    name: "RESETGATE_WAIT_MAX_AGE_SECS",
    doc: "How long a client keeps its place in line; an older ticket counts as a new arrival.",
    unset: Unset::Default(DEFAULT_WAIT_MAX_AGE_SECS),
    bounds: Range::at_least(60),
    secret: false,
};

pub static WAIT_HOLD_MS: Setting<u64> = Setting {
    name: "RESETGATE_WAIT_HOLD_MS",
    doc: "How long a client returning with a valid ticket may wait in the hash queue for its turn (at its place by arrival) before it is told to come back; 0 treats it like any request. At most half of RESETGATE_REQUEST_TIMEOUT_MS (a larger value is cut to that), so a held request is still answered in time.",
    unset: Unset::Default(DEFAULT_WAIT_HOLD_MS),
    bounds: Range::between(0, 10_000),
    secret: false,
};

pub(super) static GROUP: Group = Group {
    title: "Waiting room",
    about: "When hashing capacity is exhausted, a shed answer's Retry-After is the client's place in \
            line over the lane's measured service rate, spread by the jitter and bounded; its ticket \
            (`Resetgate-Ticket` header, `rg_ticket` cookie on pages) keeps that place across retries.",
    settings: &[
        &WAIT_MIN_RETRY_SECS,
        &WAIT_MAX_RETRY_SECS,
        &WAIT_JITTER,
        &WAIT_MAX_AGE_SECS,
        &WAIT_HOLD_MS,
    ],
};

pub(super) fn parse(env: &Env<'_>) -> Result<WaitConfig, ConfigError> {
    let min_secs = env.get(&WAIT_MIN_RETRY_SECS)?;
    let max_secs = env.get(&WAIT_MAX_RETRY_SECS)?;
    if min_secs > max_secs {
        return Err(err(
            WAIT_MIN_RETRY_SECS.name,
            format!("{min_secs} is above RESETGATE_WAIT_MAX_RETRY_SECS ({max_secs})"),
        ));
    }
    Ok(WaitConfig {
        announce: Announce {
            min_secs,
            max_secs,
            jitter: env.get(&WAIT_JITTER)?,
        },
        max_age: Duration::from_secs(env.get(&WAIT_MAX_AGE_SECS)?),
        hold: Duration::from_millis(env.get(&WAIT_HOLD_MS)?),
    })
}
