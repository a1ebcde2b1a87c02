//! The admin API: its own listener, and the digest of the token that opens it.

use std::net::SocketAddr;

use super::env::Env;
use super::setting::{Group, Setting, Unset, Value};
use super::ConfigError;

/// Admin API on its own loopback port: never behind the public load balancer by accident.
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:9465";

pub static ADMIN_LISTEN: Setting<SocketAddr> = Setting {
    name: "RESETGATE_ADMIN_LISTEN",
    doc: "The admin API's own listener, never the public one.",
    unset: Unset::DefaultText(DEFAULT_ADMIN_LISTEN),
    bounds: (),
    secret: false,
};
pub static ADMIN_TOKEN_SHA256: Setting<[u8; 32]> = Setting {
    name: "RESETGATE_ADMIN_TOKEN_SHA256",
    doc: "Hex SHA-256 of the admin bearer token; `resetgate admin-token` prints a new token and this line.",
    unset: Unset::Means("admin API off"),
    bounds: (),
    secret: false,
};

pub(super) static GROUP: Group = Group {
    title: "Admin API",
    about: "Only the token's digest is configured, so a leaked config file or process listing does not \
            leak the token.",
    settings: &[&ADMIN_LISTEN, &ADMIN_TOKEN_SHA256],
};

/// A SHA-256 digest, as 64 hex digits.
impl Value for [u8; 32] {
    type Bounds = ();

    fn kind() -> String {
        "64 hex digits".to_owned()
    }

    fn parse(raw: &str) -> Result<Self, String> {
        let bad =
            || "must be 64 hex digits (the SHA-256 of the token; see `resetgate admin-token`)".to_owned();
        if raw.len() != 64 {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = raw
                .get(2 * i..2 * i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(bad)?;
        }
        Ok(out)
    }

    /// The digest is not a secret, but printing it helps no one either.
    fn show(&self) -> String {
        "(set)".to_owned()
    }
}

#[derive(Debug, Clone)]
pub struct AdminConfig {
    pub listen: SocketAddr,
    /// SHA-256 of the admin bearer token. `None`: the admin API is off. Only the digest is
    /// configured, so a leaked config file or process listing does not leak the token.
    pub token_sha256: Option<[u8; 32]>,
}

pub(super) fn parse(env: &Env<'_>) -> Result<AdminConfig, ConfigError> {
    Ok(AdminConfig {
        listen: env.get(&ADMIN_LISTEN)?,
        token_sha256: env.opt(&ADMIN_TOKEN_SHA256)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_digest_is_64_hex_digits() {
        let digest = "ab".repeat(32);
        assert_eq!(<[u8; 32]>::parse(&digest), Ok([0xab; 32]));
        assert_eq!(<[u8; 32]>::parse(&digest.to_ascii_uppercase()), Ok([0xab; 32]));
        for bad in ["abc", &"zz".repeat(32), &"ab".repeat(33), &"é".repeat(32)] {
            assert!(<[u8; 32]>::parse(bad).is_err(), "{bad}");
        }
    }
}
