//! `RESETGATE_SMTP_*`: where and how the SMTP transport reaches its relay. Parsed only when
//! `RESETGATE_MAIL_TRANSPORT=smtp`; every mistake found here is a [`ConfigError`] at start, not a
//! stream of failed sends later.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::env::Env;
use super::secrets::value_or_file;
use super::setting::{choices, Group, Range, Setting, Unset};
use super::{err, ConfigError};
use crate::mail::smtp::{SmtpAuth, SmtpConfig, SmtpTls};

/// Small: a reset gateway sends in bursts, and each pooled connection is a session the relay
/// counts against our limits.
pub const DEFAULT_SMTP_POOL_SIZE: u32 = 4;
pub const DEFAULT_SMTP_TIMEOUT_MS: u64 = 10_000;
/// A send must end well inside the outbox lease (60 s), or a second dispatcher could claim the row
/// and send it again; the transport bounds a whole send by three times this timeout.
pub const MAX_SMTP_TIMEOUT_MS: u64 = 15_000;

choices!(SmtpTls {
    SmtpTls::None => "none",
    SmtpTls::StartTls => "starttls",
    SmtpTls::Tls => "tls",
});

pub static SMTP_HOST: Setting<String> = Setting {
    name: "RESETGATE_SMTP_HOST",
    doc: "The relay's host name; with TLS also the name its certificate must carry.",
    unset: Unset::Means("required when the transport is `smtp`"),
    bounds: (),
    secret: false,
};
pub static SMTP_TLS: Setting<SmtpTls> = Setting {
    name: "RESETGATE_SMTP_TLS",
    doc: "`starttls`: required, never a silent downgrade; `tls`: implicit (smtps); `none`: plain, for a local or trusted relay.",
    unset: Unset::Default(SmtpTls::StartTls),
    bounds: (),
    secret: false,
};
pub static SMTP_ALLOW_PLAINTEXT: Setting<bool> = Setting {
    name: "RESETGATE_SMTP_ALLOW_PLAINTEXT",
    doc: "`true` allows `RESETGATE_SMTP_TLS=none` to a relay that is not on loopback (a trusted relay on a private network); the mail carries reset links, so it is refused otherwise.",
    unset: Unset::Default(false),
    bounds: (),
    secret: false,
};
pub static SMTP_PORT: Setting<u16> = Setting {
    name: "RESETGATE_SMTP_PORT",
    doc: "The relay's port.",
    unset: Unset::Computed("`587` for `starttls`, `465` for `tls`, `25` for `none`"),
    bounds: Range::above(0),
    secret: false,
};
pub static SMTP_USERNAME: Setting<String> = Setting {
    name: "RESETGATE_SMTP_USERNAME",
    doc:
        "AUTH (PLAIN or LOGIN) user; needs a password. With `none`, AUTH is allowed only to a loopback relay.",
    unset: Unset::Means("no AUTH"),
    bounds: (),
    secret: false,
};
pub static SMTP_PASSWORD: Setting<String> = Setting {
    name: "RESETGATE_SMTP_PASSWORD",
    doc: "AUTH password; needs a username.",
    unset: Unset::Means("no AUTH"),
    bounds: (),
    secret: true,
};
pub static SMTP_PASSWORD_FILE: Setting<PathBuf> = Setting {
    name: "RESETGATE_SMTP_PASSWORD_FILE",
    doc: "Read the AUTH password from this file instead (trailing newline removed).",
    unset: Unset::Means("the password comes from `RESETGATE_SMTP_PASSWORD`"),
    bounds: (),
    secret: false,
};
pub static SMTP_POOL_SIZE: Setting<u32> = Setting {
    name: "RESETGATE_SMTP_POOL_SIZE",
    doc: "Most connections kept open to the relay.",
    unset: Unset::Default(DEFAULT_SMTP_POOL_SIZE),
    bounds: Range::above(0),
    secret: false,
};
pub static SMTP_TIMEOUT_MS: Setting<u64> = Setting {
    name: "RESETGATE_SMTP_TIMEOUT_MS",
    doc: "Limit on connecting and on each SMTP command; a whole send gets three times this, inside the outbox lease.",
    unset: Unset::Default(DEFAULT_SMTP_TIMEOUT_MS),
    bounds: Range::between(1, MAX_SMTP_TIMEOUT_MS),
    secret: false,
};
pub static SMTP_CA_FILE: Setting<PathBuf> = Setting {
    name: "RESETGATE_SMTP_CA_FILE",
    doc: "PEM file of extra CA certificates to trust for the relay (a private relay's CA).",
    unset: Unset::Means("the public web roots only (webpki-roots)"),
    bounds: (),
    secret: false,
};

pub(super) static GROUP: Group = Group {
    title: "SMTP relay",
    about: "Read only when `RESETGATE_MAIL_TRANSPORT=smtp`. Set `RESETGATE_SMTP_PASSWORD` or \
            `RESETGATE_SMTP_PASSWORD_FILE`, not both, and only with `RESETGATE_SMTP_USERNAME`. With \
            `RESETGATE_SMTP_TLS=none`, the relay must be on loopback unless \
            `RESETGATE_SMTP_ALLOW_PLAINTEXT=true` (the mail carries reset links), and AUTH is refused \
            unless it is, so the password never travels in clear text.",
    settings: &[
        &SMTP_HOST,
        &SMTP_TLS,
        &SMTP_ALLOW_PLAINTEXT,
        &SMTP_PORT,
        &SMTP_USERNAME,
        &SMTP_PASSWORD,
        &SMTP_PASSWORD_FILE,
        &SMTP_POOL_SIZE,
        &SMTP_TIMEOUT_MS,
        &SMTP_CA_FILE,
    ],
};

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn ca_file(env: &Env<'_>) -> Result<Option<PathBuf>, ConfigError> {
    let Some(path) = env.opt(&SMTP_CA_FILE)? else {
        return Ok(None);
    };
    let name = SMTP_CA_FILE.name;
    let shown = path.display();
    let pem = std::fs::read(&path).map_err(|e| err(name, format!("cannot read {shown}: {e}")))?;
    // The transport parses it fully; this catches the common mistakes (wrong file, a key instead
    // of a certificate) while `check-config` can still say which variable is wrong.
    if lettre::transport::smtp::client::Certificate::from_pem(&pem).is_err()
        || !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----")
    {
        return Err(err(name, format!("{shown} holds no PEM certificate")));
    }
    Ok(Some(path))
}

/// # Errors
/// The first missing or invalid `RESETGATE_SMTP_*` variable.
pub(super) fn parse(env: &Env<'_>) -> Result<SmtpConfig, ConfigError> {
    let host = env.opt(&SMTP_HOST)?.ok_or_else(|| {
        err(
            SMTP_HOST.name,
            "required when RESETGATE_MAIL_TRANSPORT=smtp (the relay's host name)",
        )
    })?;
    let tls = env.get(&SMTP_TLS)?;
    let port = env.get_or(&SMTP_PORT, || tls.default_port())?;
    let auth = match (
        env.opt(&SMTP_USERNAME)?,
        value_or_file(env, &SMTP_PASSWORD, &SMTP_PASSWORD_FILE)?,
    ) {
        (Some(username), Some(password)) => Some(SmtpAuth { username, password }),
        (None, None) => None,
        (Some(_), None) => {
            return Err(err(
                SMTP_PASSWORD.name,
                "required with RESETGATE_SMTP_USERNAME (or RESETGATE_SMTP_PASSWORD_FILE)",
            ))
        }
        (None, Some(_)) => return Err(err(SMTP_USERNAME.name, "required with RESETGATE_SMTP_PASSWORD")),
    };
    if auth.is_some() && tls == SmtpTls::None && !is_loopback(&host) {
        return Err(err(
            SMTP_TLS.name,
            "none would send the SMTP password in clear text; use starttls or tls (none with AUTH is \
             allowed only for a loopback relay)",
        ));
    }
    // Read whatever the transport, so the setting is never reported as unread.
    let allow_plaintext = env.get(&SMTP_ALLOW_PLAINTEXT)?;
    if tls == SmtpTls::None && !is_loopback(&host) && !allow_plaintext {
        return Err(err(
            SMTP_TLS.name,
            format!(
                "none would send reset links in clear text to {host}; use starttls or tls, or set \
                 RESETGATE_SMTP_ALLOW_PLAINTEXT=true for a trusted relay on a private network"
            ),
        ));
    }
    Ok(SmtpConfig {
        host,
        port,
        tls,
        auth,
        pool_size: env.get(&SMTP_POOL_SIZE)?,
        timeout: Duration::from_millis(env.get(&SMTP_TIMEOUT_MS)?),
        ca_file: ca_file(env)?,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::io::Write as _;

    use super::*;
    use crate::config::{Config, MailTransport, Mode};

    fn serve(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut map: HashMap<String, String> = [
            ("RESETGATE_DATABASE_URL", "postgres://app@db/resetgate"),
            ("RESETGATE_PEPPER", "0123456789abcdef0123456789abcdef"),
            ("RESETGATE_PUBLIC_BASE_URL", "https://example.com/account"),
            ("RESETGATE_MAIL_TRANSPORT", "smtp"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        for (k, v) in vars {
            map.insert((*k).to_owned(), (*v).to_owned());
        }
        Config::from_lookup(Mode::Serve, &move |k| map.get(k).cloned())
    }

    fn smtp(vars: &[(&str, &str)]) -> SmtpConfig {
        match serve(vars).unwrap().mail.transport {
            MailTransport::Smtp(s) => s,
            other => panic!("expected smtp, got {other:?}"),
        }
    }

    #[test]
    fn defaults_follow_the_tls_mode() {
        let s = smtp(&[("RESETGATE_SMTP_HOST", "relay.example.com")]);
        assert_eq!(s.tls, SmtpTls::StartTls);
        assert_eq!(s.port, 587);
        assert_eq!(s.pool_size, DEFAULT_SMTP_POOL_SIZE);
        assert_eq!(s.timeout, Duration::from_millis(DEFAULT_SMTP_TIMEOUT_MS));
        assert!(s.auth.is_none() && s.ca_file.is_none());
        for (mode, port) in [("none", 25), ("starttls", 587), ("tls", 465)] {
            let s = smtp(&[
                ("RESETGATE_SMTP_HOST", "relay.example.com"),
                ("RESETGATE_SMTP_TLS", mode),
                ("RESETGATE_SMTP_ALLOW_PLAINTEXT", "true"),
            ]);
            assert_eq!(s.port, port, "{mode}");
        }
        let s = smtp(&[
            ("RESETGATE_SMTP_HOST", "relay.example.com"),
            ("RESETGATE_SMTP_TLS", "tls"),
            ("RESETGATE_SMTP_PORT", "2465"),
            ("RESETGATE_SMTP_POOL_SIZE", "9"),
            ("RESETGATE_SMTP_TIMEOUT_MS", "2500"),
        ]);
        assert_eq!((s.port, s.pool_size), (2465, 9));
        assert_eq!(s.timeout, Duration::from_millis(2500));
    }

    #[test]
    fn password_is_redacted_and_may_come_from_a_file() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "s3cret-from-file").unwrap();
        let path = file.path().display().to_string();
        let c = serve(&[
            ("RESETGATE_SMTP_HOST", "relay.example.com"),
            ("RESETGATE_SMTP_USERNAME", "mailer"),
            ("RESETGATE_SMTP_PASSWORD_FILE", &path),
        ])
        .unwrap();
        let MailTransport::Smtp(s) = &c.mail.transport else {
            panic!("smtp")
        };
        let auth = s.auth.as_ref().unwrap();
        assert_eq!(auth.password.expose(), "s3cret-from-file");
        let shown = c.to_string();
        assert!(shown.contains("RESETGATE_MAIL_TRANSPORT=smtp"), "{shown}");
        assert!(shown.contains("RESETGATE_SMTP_USERNAME=mailer"), "{shown}");
        assert!(shown.contains("RESETGATE_SMTP_PASSWORD=[redacted]"), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn bad_values_name_their_variable() {
        let host = ("RESETGATE_SMTP_HOST", "relay.example.com");
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], "RESETGATE_SMTP_HOST"),
            (&[host, ("RESETGATE_SMTP_TLS", "ssl")], "RESETGATE_SMTP_TLS"),
            (&[host, ("RESETGATE_SMTP_PORT", "0")], "RESETGATE_SMTP_PORT"),
            (&[host, ("RESETGATE_SMTP_PORT", "70000")], "RESETGATE_SMTP_PORT"),
            (
                &[host, ("RESETGATE_SMTP_POOL_SIZE", "0")],
                "RESETGATE_SMTP_POOL_SIZE",
            ),
            (
                &[host, ("RESETGATE_SMTP_TIMEOUT_MS", "0")],
                "RESETGATE_SMTP_TIMEOUT_MS",
            ),
            (
                &[host, ("RESETGATE_SMTP_TIMEOUT_MS", "60000")],
                "RESETGATE_SMTP_TIMEOUT_MS",
            ),
            (
                &[host, ("RESETGATE_SMTP_USERNAME", "mailer")],
                "RESETGATE_SMTP_PASSWORD",
            ),
            (
                &[host, ("RESETGATE_SMTP_PASSWORD", "pw")],
                "RESETGATE_SMTP_USERNAME",
            ),
            (
                &[
                    host,
                    ("RESETGATE_SMTP_USERNAME", "mailer"),
                    ("RESETGATE_SMTP_PASSWORD", "pw"),
                    ("RESETGATE_SMTP_PASSWORD_FILE", "/etc/pw"),
                ],
                "RESETGATE_SMTP_PASSWORD",
            ),
            (
                &[
                    host,
                    ("RESETGATE_SMTP_USERNAME", "mailer"),
                    ("RESETGATE_SMTP_PASSWORD_FILE", "/nonexistent/pw"),
                ],
                "RESETGATE_SMTP_PASSWORD_FILE",
            ),
            (
                &[host, ("RESETGATE_SMTP_CA_FILE", "/nonexistent/ca.pem")],
                "RESETGATE_SMTP_CA_FILE",
            ),
            (
                &[host, ("RESETGATE_MAIL_FROM", "not an address")],
                "RESETGATE_MAIL_FROM",
            ),
        ];
        for (vars, named) in cases {
            let e = serve(vars).unwrap_err();
            assert_eq!(e.var, *named, "{vars:?}: {e}");
            assert!(!e.to_string().contains("pw\""), "{e}");
        }
    }

    #[test]
    fn a_ca_file_must_hold_a_certificate() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(
            file,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"
        )
        .unwrap();
        let path = file.path().display().to_string();
        let e = serve(&[
            ("RESETGATE_SMTP_HOST", "relay.example.com"),
            ("RESETGATE_SMTP_CA_FILE", &path),
        ])
        .unwrap_err();
        assert_eq!(e.var, "RESETGATE_SMTP_CA_FILE");
    }

    #[test]
    fn clear_text_auth_only_to_loopback() {
        let auth = [
            ("RESETGATE_SMTP_TLS", "none"),
            ("RESETGATE_SMTP_USERNAME", "mailer"),
            ("RESETGATE_SMTP_PASSWORD", "pw"),
        ];
        let remote: Vec<_> = auth
            .iter()
            .copied()
            .chain([("RESETGATE_SMTP_HOST", "relay.example.com")])
            .collect();
        assert_eq!(serve(&remote).unwrap_err().var, "RESETGATE_SMTP_TLS");
        for host in ["localhost", "127.0.0.1", "::1", "[::1]"] {
            let local: Vec<_> = auth
                .iter()
                .copied()
                .chain([("RESETGATE_SMTP_HOST", host)])
                .collect();
            assert!(smtp(&local).auth.is_some(), "{host}");
        }
        // Without AUTH, plain text to a remote relay still carries the reset links: refused
        // unless allowed outright.
        let plain = [
            ("RESETGATE_SMTP_HOST", "relay.example.com"),
            ("RESETGATE_SMTP_TLS", "none"),
        ];
        let e = serve(&plain).unwrap_err();
        assert_eq!(e.var, "RESETGATE_SMTP_TLS");
        assert!(e.message.contains("RESETGATE_SMTP_ALLOW_PLAINTEXT=true"), "{e}");
        let allowed: Vec<_> = plain
            .iter()
            .copied()
            .chain([("RESETGATE_SMTP_ALLOW_PLAINTEXT", "true")])
            .collect();
        let s = smtp(&allowed);
        assert_eq!((s.tls, s.port), (SmtpTls::None, 25));
        let local = smtp(&[
            ("RESETGATE_SMTP_HOST", "127.0.0.1"),
            ("RESETGATE_SMTP_TLS", "none"),
        ]);
        assert_eq!(local.tls, SmtpTls::None, "a loopback relay needs no permission");
    }
}
