//! The reset flow: how long links live, the timing floor, the password policy.

use std::time::Duration;

use super::env::Env;
use super::setting::{Group, Range, Setting, Unset};
use super::{err, ConfigError};
use crate::reset::password::{PasswordPolicy, HARD_MAX_BYTES};

/// OWASP: reset tokens should be short-lived.
pub const DEFAULT_TOKEN_TTL_SECS: u64 = 30 * 60;
/// Every reset request takes at least this long, known account or not, so timing does not reveal
/// whether an address has an account. Comfortably above the known-account path's database work.
pub const DEFAULT_RESET_FLOOR_MS: u64 = 150;
/// A repeat reset request for one address within this window sends no new mail and keeps the live
/// link: long enough that a flood of requests cannot fill a victim's inbox or kill the link they
/// are about to click, short enough that someone whose mail was lost can ask again soon.
pub const DEFAULT_RESET_COOLDOWN_SECS: u64 = 120;
/// Reset mails one client network (IPv4 /24, IPv6 /48) may have waiting unsent at once. At the
/// default send rate this is seconds of mail: an office whose staff all ask at once still gets
/// through (the cap counts waiting mail, not requests), while one party with a leaked address list
/// cannot fill the queue from one block.
pub const DEFAULT_RESET_BACKLOG_PER_NETWORK: u32 = 50;
pub const DEFAULT_PASSWORD_MIN_CHARS: usize = 15;
pub const DEFAULT_PASSWORD_MIN_CHARS_MFA: usize = 8;
pub const DEFAULT_PASSWORD_MAX_CHARS: usize = 256;
/// Floors config may not go below (NIST SP 800-63B: 15 as a single factor, 8 with a second one).
pub const MIN_PASSWORD_CHARS: usize = 15;
pub const MIN_PASSWORD_CHARS_MFA: usize = 8;
/// NIST SP 800-63B: verifiers accept at least 64 characters.
pub const MIN_PASSWORD_MAX_CHARS: usize = 64;

pub static TOKEN_TTL_SECS: Setting<u64> = Setting {
    name: "RESETGATE_TOKEN_TTL_SECS",
    doc: "How long a reset link stays valid.",
    unset: Unset::Default(DEFAULT_TOKEN_TTL_SECS),
    bounds: Range::above(0),
    secret: false,
};
pub static RESET_FLOOR_MS: Setting<u64> = Setting {
    name: "RESETGATE_RESET_FLOOR_MS",
    doc: "Least time every reset request takes, account or not, so timing does not tell which addresses have one.",
    unset: Unset::Default(DEFAULT_RESET_FLOOR_MS),
    bounds: Range::ANY,
    secret: false,
};
pub static RESET_COOLDOWN_SECS: Setting<u64> = Setting {
    name: "RESETGATE_RESET_COOLDOWN_SECS",
    doc: "A repeat reset request for one account within this time, or while its mail is still waiting to be sent, issues no new link and sends no mail; the answer looks the same. 0 turns the cooldown off.",
    unset: Unset::Default(DEFAULT_RESET_COOLDOWN_SECS),
    bounds: Range::ANY,
    secret: false,
};
pub static RESET_BACKLOG_PER_NETWORK: Setting<u32> = Setting {
    name: "RESETGATE_RESET_BACKLOG_PER_NETWORK",
    doc: "Reset mails one client network (IPv4 /24, IPv6 /48) may have waiting to be sent; a further request from it sends nothing and answers the same. Reset mail is sent in fair order: each network's first waiting mail before anyone's second. 0 turns the cap off.",
    unset: Unset::Default(DEFAULT_RESET_BACKLOG_PER_NETWORK),
    bounds: Range::ANY,
    secret: false,
};
pub static PASSWORD_MIN_CHARS: Setting<usize> = Setting {
    name: "RESETGATE_PASSWORD_MIN_CHARS",
    doc: "Shortest password, in characters, for an account without a second factor (NIST SP 800-63B floor).",
    unset: Unset::Default(DEFAULT_PASSWORD_MIN_CHARS),
    bounds: Range::at_least(MIN_PASSWORD_CHARS),
    secret: false,
};
pub static PASSWORD_MIN_CHARS_MFA: Setting<usize> = Setting {
    name: "RESETGATE_PASSWORD_MIN_CHARS_MFA",
    doc: "Shortest password for an account with a second factor (NIST SP 800-63B floor).",
    unset: Unset::Default(DEFAULT_PASSWORD_MIN_CHARS_MFA),
    bounds: Range::at_least(MIN_PASSWORD_CHARS_MFA),
    secret: false,
};
pub static PASSWORD_MAX_CHARS: Setting<usize> = Setting {
    name: "RESETGATE_PASSWORD_MAX_CHARS",
    doc: "Longest password, in characters.",
    unset: Unset::Default(DEFAULT_PASSWORD_MAX_CHARS),
    bounds: Range::between(MIN_PASSWORD_MAX_CHARS, HARD_MAX_BYTES),
    secret: false,
};

pub(super) static GROUP: Group = Group {
    title: "Reset flow and password policy",
    about: "Configuration may tighten the password policy, never loosen it below NIST SP 800-63B. Both \
            minimums must not exceed `RESETGATE_PASSWORD_MAX_CHARS`.",
    settings: &[
        &TOKEN_TTL_SECS,
        &RESET_FLOOR_MS,
        &RESET_COOLDOWN_SECS,
        &RESET_BACKLOG_PER_NETWORK,
        &PASSWORD_MIN_CHARS,
        &PASSWORD_MIN_CHARS_MFA,
        &PASSWORD_MAX_CHARS,
    ],
};

pub(super) struct Reset {
    pub token_ttl: Duration,
    pub floor: Duration,
    pub cooldown: Duration,
    pub backlog_per_network: u32,
}

pub(super) fn policy(env: &Env<'_>) -> Result<PasswordPolicy, ConfigError> {
    let policy = PasswordPolicy {
        min_chars: env.get(&PASSWORD_MIN_CHARS)?,
        min_chars_with_mfa: env.get(&PASSWORD_MIN_CHARS_MFA)?,
        max_chars: env.get(&PASSWORD_MAX_CHARS)?,
    };
    if policy.min_chars_with_mfa > policy.max_chars {
        return Err(err(
            PASSWORD_MIN_CHARS_MFA.name,
            "must not exceed RESETGATE_PASSWORD_MAX_CHARS",
        ));
    }
    if policy.min_chars > policy.max_chars {
        return Err(err(
            PASSWORD_MIN_CHARS.name,
            "must not exceed RESETGATE_PASSWORD_MAX_CHARS",
        ));
    }
    Ok(policy)
}

pub(super) fn parse(env: &Env<'_>) -> Result<Reset, ConfigError> {
    Ok(Reset {
        token_ttl: Duration::from_secs(env.get(&TOKEN_TTL_SECS)?),
        floor: Duration::from_millis(env.get(&RESET_FLOOR_MS)?),
        cooldown: Duration::from_secs(env.get(&RESET_COOLDOWN_SECS)?),
        backlog_per_network: env.get(&RESET_BACKLOG_PER_NETWORK)?,
    })
}
