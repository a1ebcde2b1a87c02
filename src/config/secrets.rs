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

pub(super) static GROUP: Group = Group {
    title: "Secrets",
    about: "Set `RESETGATE_PEPPER` or `RESETGATE_PEPPER_FILE`, not both. Changing the pepper invalidates \
            every password hash and every sealed token in the outbox.",
    settings: &[&PEPPER, &PEPPER_FILE],
};

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
    Ok(pepper)
}

fn random_pepper() -> SecretString {
    let mut bytes = [0u8; 32];
    UnwrapErr(SysRng).fill_bytes(&mut bytes);
    SecretString::new(URL_SAFE_NO_PAD.encode(bytes))
}
