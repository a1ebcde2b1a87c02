//! `RESETGATE_SMTP_*`: where and how the SMTP transport reaches its relay. Parsed only when
//! `RESETGATE_MAIL_TRANSPORT=smtp`; every mistake found here is a [`ConfigError`] at start, not a
//! stream of failed sends later.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::{err, ConfigError, Env};
use crate::secret::SecretString;

/// Small: a reset gateway sends in bursts, and each pooled connection is a session the relay
/// counts against our limits.
pub const DEFAULT_SMTP_POOL_SIZE: u32 = 4;
pub const DEFAULT_SMTP_TIMEOUT_MS: u64 = 10_000;
/// A send must end well inside the outbox lease (60 s), or a second dispatcher could claim the row
/// and send it again; the transport bounds a whole send by three times this timeout.
pub const MAX_SMTP_TIMEOUT_MS: u64 = 15_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain text: only for a relay on the same host or a trusted private network.
    None,
    /// STARTTLS, required: a relay that does not offer it is an error, never a silent downgrade.
    StartTls,
    /// Implicit TLS from the first byte (smtps).
    Tls,
}

impl SmtpTls {
    #[must_use]
    pub fn default_port(self) -> u16 {
        match self {
            Self::None => 25,
            Self::StartTls => 587,
            Self::Tls => 465,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::StartTls => "starttls",
            Self::Tls => "tls",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpAuth {
    pub username: String,
    pub password: SecretString,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub auth: Option<SmtpAuth>,
    /// Most connections kept open to the relay.
    pub pool_size: u32,
    /// Bounds connecting and each command; a whole send is bounded by a multiple of it.
    pub timeout: Duration,
    /// A PEM file of extra roots to trust (a private relay's CA), besides the public web roots.
    pub ca_file: Option<PathBuf>,
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn password(env: &Env<'_>) -> Result<Option<SecretString>, ConfigError> {
    match (
        env.raw("RESETGATE_SMTP_PASSWORD"),
        env.raw("RESETGATE_SMTP_PASSWORD_FILE"),
    ) {
        (Some(_), Some(_)) => Err(err(
            "RESETGATE_SMTP_PASSWORD",
            "set RESETGATE_SMTP_PASSWORD or RESETGATE_SMTP_PASSWORD_FILE, not both",
        )),
        (Some(p), None) => Ok(Some(SecretString::new(p))),
        (None, Some(path)) => {
            let raw = std::fs::read_to_string(&path)
                .map_err(|e| err("RESETGATE_SMTP_PASSWORD_FILE", format!("cannot read {path}: {e}")))?;
            let p = raw.trim_end_matches(['\n', '\r']);
            if p.is_empty() {
                return Err(err("RESETGATE_SMTP_PASSWORD_FILE", format!("{path} is empty")));
            }
            Ok(Some(SecretString::new(p.to_owned())))
        }
        (None, None) => Ok(None),
    }
}

fn ca_file(env: &Env<'_>) -> Result<Option<PathBuf>, ConfigError> {
    const VAR: &str = "RESETGATE_SMTP_CA_FILE";
    let Some(path) = env.raw(VAR) else {
        return Ok(None);
    };
    let pem = std::fs::read(&path).map_err(|e| err(VAR, format!("cannot read {path}: {e}")))?;
    // The transport parses it fully; this catches the common mistakes (wrong file, a key instead
    // of a certificate) while `check-config` can still say which variable is wrong.
    if lettre::transport::smtp::client::Certificate::from_pem(&pem).is_err()
        || !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----")
    {
        return Err(err(VAR, format!("{path} holds no PEM certificate")));
    }
    Ok(Some(path.into()))
}

/// # Errors
/// The first missing or invalid `RESETGATE_SMTP_*` variable.
pub(super) fn parse(env: &Env<'_>) -> Result<SmtpConfig, ConfigError> {
    let host = env.raw("RESETGATE_SMTP_HOST").ok_or_else(|| {
        err(
            "RESETGATE_SMTP_HOST",
            "required when RESETGATE_MAIL_TRANSPORT=smtp (the relay's host name)",
        )
    })?;
    let tls = match env.raw("RESETGATE_SMTP_TLS").as_deref() {
        None | Some("starttls") => SmtpTls::StartTls,
        Some("tls") => SmtpTls::Tls,
        Some("none") => SmtpTls::None,
        Some(other) => {
            return Err(err(
                "RESETGATE_SMTP_TLS",
                format!("expected none, starttls or tls, got {other:?}"),
            ))
        }
    };
    let port: u16 = env.parse("RESETGATE_SMTP_PORT", tls.default_port())?;
    if port == 0 {
        return Err(err("RESETGATE_SMTP_PORT", "must be greater than zero"));
    }
    let auth = match (env.raw("RESETGATE_SMTP_USERNAME"), password(env)?) {
        (Some(username), Some(password)) => Some(SmtpAuth { username, password }),
        (None, None) => None,
        (Some(_), None) => {
            return Err(err(
                "RESETGATE_SMTP_PASSWORD",
                "required with RESETGATE_SMTP_USERNAME (or RESETGATE_SMTP_PASSWORD_FILE)",
            ))
        }
        (None, Some(_)) => {
            return Err(err(
                "RESETGATE_SMTP_USERNAME",
                "required with RESETGATE_SMTP_PASSWORD",
            ))
        }
    };
    if auth.is_some() && tls == SmtpTls::None && !is_loopback(&host) {
        return Err(err(
            "RESETGATE_SMTP_TLS",
            "none would send the SMTP password in clear text; use starttls or tls (none with AUTH is \
             allowed only for a loopback relay)",
        ));
    }
    let timeout_ms = env.positive("RESETGATE_SMTP_TIMEOUT_MS", DEFAULT_SMTP_TIMEOUT_MS)?;
    if timeout_ms > MAX_SMTP_TIMEOUT_MS {
        return Err(err(
            "RESETGATE_SMTP_TIMEOUT_MS",
            format!("must be at most {MAX_SMTP_TIMEOUT_MS}, so a send ends inside the outbox lease"),
        ));
    }
    Ok(SmtpConfig {
        host,
        port,
        tls,
        auth,
        pool_size: env.positive("RESETGATE_SMTP_POOL_SIZE", DEFAULT_SMTP_POOL_SIZE)?,
        timeout: Duration::from_millis(timeout_ms),
        ca_file: ca_file(env)?,
    })
}

impl fmt::Display for SmtpConfig {
    /// `VAR=value` lines for `check-config`; the password never appears.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "RESETGATE_SMTP_HOST={}", self.host)?;
        writeln!(f, "RESETGATE_SMTP_PORT={}", self.port)?;
        writeln!(f, "RESETGATE_SMTP_TLS={}", self.tls.name())?;
        if let Some(auth) = &self.auth {
            writeln!(f, "RESETGATE_SMTP_USERNAME={}", auth.username)?;
            writeln!(f, "RESETGATE_SMTP_PASSWORD={}", auth.password)?;
        }
        writeln!(f, "RESETGATE_SMTP_POOL_SIZE={}", self.pool_size)?;
        writeln!(f, "RESETGATE_SMTP_TIMEOUT_MS={}", self.timeout.as_millis())?;
        if let Some(ca) = &self.ca_file {
            writeln!(f, "RESETGATE_SMTP_CA_FILE={}", ca.display())?;
        }
        Ok(())
    }
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
        // Without AUTH there is no password to leak: plain text to a remote relay is allowed.
        let s = smtp(&[
            ("RESETGATE_SMTP_HOST", "relay.example.com"),
            ("RESETGATE_SMTP_TLS", "none"),
        ]);
        assert_eq!((s.tls, s.port), (SmtpTls::None, 25));
    }
}
