//! The pepper, and the one way a secret is read from a variable or from a file named by its
//! `_FILE` twin (the SMTP password uses it too).

use std::path::PathBuf;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;
use rand::Rng as _;

use super::env::Env;
use super::setting::{Group, Setting, Unset};
use super::{err, ConfigError, Mode};
use crate::secret::SecretString;

/// Minimum pepper length: 256 bits of key material.
pub const MIN_PEPPER_BYTES: usize = 32;

pub static PEPPER: Setting<String> = Setting {
    name: "RESETGATE_PEPPER",
    doc: "Secret of at least 32 bytes: argon2's secret input and the key sealing outbox tokens (`openssl rand -hex 32`).",
    unset: Unset::Means(
        "required by `serve` and `create-account` (or `RESETGATE_PEPPER_FILE`); random per process otherwise",
    ),
    bounds: (),
    secret: true,
};
pub static PEPPER_FILE: Setting<PathBuf> = Setting {
    name: "RESETGATE_PEPPER_FILE",
    doc: "Read the pepper from this file instead (trailing newline removed), e.g. a mounted secret.",
    unset: Unset::Means("the pepper comes from `RESETGATE_PEPPER`"),
    bounds: (),
    secret: false,
};

pub static PEPPER_RETIRED: Setting<String> = Setting {
    name: "RESETGATE_PEPPER_RETIRED",
    doc: "Peppers that were current before, newest first, separated by commas or white space: hashes and sealed values made with them still verify and open, and each hash moves to the current pepper at its owner's next login.",
    unset: Unset::Means("no retired pepper (or `RESETGATE_PEPPER_RETIRED_FILE`)"),
    bounds: (),
    secret: true,
};
pub static PEPPER_RETIRED_FILE: Setting<PathBuf> = Setting {
    name: "RESETGATE_PEPPER_RETIRED_FILE",
    doc: "Read the retired peppers from this file instead, one per line, newest first.",
    unset: Unset::Means("the retired peppers come from `RESETGATE_PEPPER_RETIRED`"),
    bounds: (),
    secret: false,
};

pub(super) static GROUP: Group = Group {
    title: "Secrets",
    about: "Set `RESETGATE_PEPPER` or `RESETGATE_PEPPER_FILE`, not both (likewise for the retired ones). \
            The pepper rotates: make the new one current and list the old one as retired; new hashes \
            name the new pepper, old ones verify with theirs and are rehashed at the next login \
            (docs/security.md, \"Rotating the pepper\"). `serve` refuses the demo pepper and any value \
            marked CHANGE-ME.",
    settings: &[&PEPPER, &PEPPER_FILE, &PEPPER_RETIRED, &PEPPER_RETIRED_FILE],
};

/// The pepper deploy/secrets/pepper.example used to ship (compose's demo): public, so never a secret.
const DEMO_PEPPER: &str = "demo-only-pepper-CHANGE-ME-never-use-outside-a-laptop-0123456789abcdef";

/// A value copied from an example rather than made: the known demo pepper, or anything still
/// marked as a placeholder.
fn is_placeholder(pepper: &SecretString) -> bool {
    let v = pepper.expose();
    v == DEMO_PEPPER || v.to_ascii_lowercase().contains("change-me")
}

/// A secret from `value` or from the file `file` names (at most one of them may be set). An empty
/// file is refused: it is a mount that went wrong, not a choice.
pub(super) fn value_or_file(
    env: &Env<'_>,
    value: &Setting<String>,
    file: &Setting<PathBuf>,
) -> Result<Option<SecretString>, ConfigError> {
    let secret = match (env.opt(value)?, env.opt(file)?) {
        (Some(_), Some(_)) => {
            return Err(err(
                value.name,
                format!("set {} or {}, not both", value.name, file.name),
            ))
        }
        (Some(v), None) => SecretString::new(v),
        (None, Some(path)) => {
            let raw = std::fs::read_to_string(&path)
                .map_err(|e| err(file.name, format!("cannot read {}: {e}", path.display())))?;
            let v = raw.trim_end_matches(['\n', '\r']);
            if v.is_empty() {
                return Err(err(file.name, format!("{} is empty", path.display())));
            }
            SecretString::new(v.to_owned())
        }
        (None, None) => return Ok(None),
    };
    // Shown as `[redacted]` whichever way it came.
    env.show(value, &String::new());
    Ok(Some(secret))
}

pub(super) fn pepper(env: &Env<'_>, mode: Mode) -> Result<SecretString, ConfigError> {
    let pepper = match value_or_file(env, &PEPPER, &PEPPER_FILE)? {
        Some(p) => p,
        None if mode.needs_pepper() => {
            return Err(err(
                PEPPER.name,
                "required (or RESETGATE_PEPPER_FILE); at least 32 bytes, e.g. `openssl rand -hex 32`",
            ))
        }
        None => {
            env.show(&PEPPER, &String::new());
            random_pepper()
        }
    };
    if pepper.expose().len() < MIN_PEPPER_BYTES {
        return Err(err(
            PEPPER.name,
            format!("must be at least {MIN_PEPPER_BYTES} bytes"),
        ));
    }
    if mode.needs_pepper() && is_placeholder(&pepper) {
        return Err(err(
            PEPPER.name,
            "is the demo pepper or a CHANGE-ME placeholder, which anyone can read; make one with `openssl rand -hex 32`",
        ));
    }
    Ok(pepper)
}

/// The retired peppers, newest first. Each must be a real pepper too, and none the current one.
pub(super) fn retired(env: &Env<'_>, current: &SecretString) -> Result<Vec<SecretString>, ConfigError> {
    let Some(all) = value_or_file(env, &PEPPER_RETIRED, &PEPPER_RETIRED_FILE)? else {
        return Ok(Vec::new());
    };
    let list: Vec<SecretString> = all
        .expose()
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|p| !p.is_empty())
        .map(|p| SecretString::new(p.to_owned()))
        .collect();
    // Positions, never values: these are secrets.
    for (i, p) in list.iter().enumerate() {
        let n = i + 1;
        if p.expose().len() < MIN_PEPPER_BYTES {
            return Err(err(
                PEPPER_RETIRED.name,
                format!("retired pepper #{n} is shorter than {MIN_PEPPER_BYTES} bytes"),
            ));
        }
        if p.expose() == current.expose() {
            return Err(err(
                PEPPER_RETIRED.name,
                format!("retired pepper #{n} is the current pepper"),
            ));
        }
        if list[..i].iter().any(|q| q.expose() == p.expose()) {
            return Err(err(
                PEPPER_RETIRED.name,
                format!("retired pepper #{n} is listed twice"),
            ));
        }
    }
    Ok(list)
}

fn random_pepper() -> SecretString {
    let mut bytes = [0u8; 32];
    UnwrapErr(SysRng).fill_bytes(&mut bytes);
    SecretString::new(URL_SAFE_NO_PAD.encode(bytes))
}
