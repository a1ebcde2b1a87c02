//! The whole configuration: modes, cross-field rules, `check-config` output, and the registry
//! itself (every setting declared once, read by the parser, with a default inside its bounds).

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use super::*;

fn parse(mode: Mode, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::from_lookup(mode, &move |k| map.get(k).cloned())
}

fn serve(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    parse(Mode::Serve, vars)
}

const OK: &[(&str, &str)] = &[
    ("RESETGATE_DATABASE_URL", "postgres://app:hunter2@db/resetgate"),
    ("RESETGATE_PEPPER", "0123456789abcdef0123456789abcdef"),
    ("RESETGATE_PUBLIC_BASE_URL", "https://example.com/account"),
    ("RESETGATE_MAIL_TRANSPORT", "log"),
];

fn with<'a>(vars: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all: Vec<_> = OK
        .iter()
        .copied()
        .filter(|(k, _)| !vars.iter().any(|(v, _)| v == k))
        .collect();
    all.extend_from_slice(vars);
    all
}

#[test]
fn a_password_in_the_database_url_query_is_redacted_too() {
    // libpq takes the password from the query as well as from the userinfo.
    let url = SecretString::new(
        "postgres://app@db/resetgate?sslmode=require&password=qpw999&sslpassword=kpw777".to_owned(),
    );
    let shown = super::redact_url(&url);
    assert!(!shown.contains("qpw999") && !shown.contains("kpw777"), "{shown}");
    assert!(shown.contains("sslmode=require"), "{shown}");
    assert!(shown.contains("password=%5Bredacted%5D"), "{shown}");
}

#[test]
fn serve_defaults_and_redaction() {
    let c = serve(OK).unwrap();
    assert_eq!(c.token_ttl, Duration::from_secs(1800));
    assert_eq!(c.hash, HashParams::default());
    assert_eq!(c.public_base_url.as_str(), "https://example.com/account/");
    assert_eq!(c.log_format, LogFormat::Text);
    let shown = c.to_string();
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(!shown.contains("0123456789abcdef"), "{shown}");
    assert!(shown.contains("RESETGATE_PEPPER=[redacted]"), "{shown}");
    assert!(
        shown.contains("RESETGATE_DATABASE_URL=postgres://app:%5Bredacted%5D@db/resetgate"),
        "{shown}"
    );
    // The effective value, after normalisation.
    assert!(
        shown.contains("RESETGATE_PUBLIC_BASE_URL=https://example.com/account/\n"),
        "{shown}"
    );
    assert!(
        shown.contains("RESETGATE_ADMIN_TOKEN_SHA256=(unset: admin API off)"),
        "{shown}"
    );
    assert!(shown.contains("RESETGATE_ARGON2_M_KIB=19456\n"), "{shown}");
}

#[test]
fn serve_requires_database_pepper_and_base_url() {
    for missing in [
        "RESETGATE_DATABASE_URL",
        "RESETGATE_PEPPER",
        "RESETGATE_PUBLIC_BASE_URL",
        "RESETGATE_MAIL_TRANSPORT",
    ] {
        let vars: Vec<_> = OK.iter().copied().filter(|(k, _)| *k != missing).collect();
        assert_eq!(serve(&vars).unwrap_err().var, missing);
    }
}

#[test]
fn the_mail_lease_must_outlast_a_send() {
    let mut vars = with(&[
        ("RESETGATE_MAIL_TRANSPORT", "smtp"),
        ("RESETGATE_SMTP_HOST", "smtp.example.com"),
        ("RESETGATE_SMTP_TIMEOUT_MS", "10000"),
    ]);
    assert_eq!(serve(&vars).unwrap().dispatch.lease, Duration::from_secs(60));
    vars.push(("RESETGATE_MAIL_LEASE_MS", "30000"));
    let e = serve(&vars).unwrap_err();
    assert_eq!(e.var, "RESETGATE_MAIL_LEASE_MS");
    assert!(e.message.contains("three times RESETGATE_SMTP_TIMEOUT_MS"), "{e}");
}

#[test]
fn a_held_request_is_answered_within_the_request_timeout() {
    let c = serve(&with(&[])).unwrap();
    assert_eq!(c.waiting.hold, Duration::from_secs(2));
    let c = serve(&with(&[
        ("RESETGATE_REQUEST_TIMEOUT_MS", "3000"),
        ("RESETGATE_WAIT_HOLD_MS", "1400"),
    ]))
    .unwrap();
    assert_eq!(c.waiting.hold, Duration::from_millis(1400));
    let c = serve(&with(&[("RESETGATE_REQUEST_TIMEOUT_MS", "100")])).unwrap();
    assert_eq!(
        c.waiting.hold,
        Duration::from_millis(50),
        "at most half the request timeout"
    );
}

#[test]
fn the_database_url_carries_the_tls_mode_and_loses_it_on_the_way_to_the_driver() {
    use crate::storage::postgres::tls::DbTls;
    let db = |url: &str| serve(&with(&[("RESETGATE_DATABASE_URL", url)])).map(|c| c.database.unwrap());
    let remote = db("postgres://app:pw@db.internal/resetgate?application_name=x").unwrap();
    assert_eq!(
        remote.tls,
        DbTls::VerifyFull { ca_file: None },
        "verify-full off this machine"
    );
    let local = db("postgres://app@127.0.0.1:5432/resetgate").unwrap();
    assert_eq!(local.tls, DbTls::Disable, "plaintext only on loopback");
    let socket = db("postgres:///resetgate?host=/run/postgresql&user=app").unwrap();
    assert_eq!(socket.tls, DbTls::Disable);
    let required = db("postgres://app:pw@db.internal/resetgate?sslmode=require&connect_timeout=3").unwrap();
    assert_eq!(required.tls, DbTls::Require);
    assert_eq!(
        required.url.expose(),
        "postgres://app:pw@db.internal/resetgate?connect_timeout=3",
        "tokio-postgres never sees sslmode"
    );
    let e = db("postgres://app@db.internal/resetgate?sslmode=prefer").unwrap_err();
    assert_eq!(e.var, "RESETGATE_DATABASE_URL");
    assert!(e.message.contains("fall back to plaintext"), "{}", e.message);

    let e = serve(&with(&[
        (
            "RESETGATE_DATABASE_URL",
            "postgres://app@db.internal/r?sslmode=require",
        ),
        ("RESETGATE_DATABASE_CA_FILE", "/etc/ssl/ca.pem"),
    ]))
    .unwrap_err();
    assert_eq!(e.var, "RESETGATE_DATABASE_CA_FILE");
    let e = serve(&with(&[("RESETGATE_DATABASE_CA_FILE", "/nonexistent/ca.pem")])).unwrap_err();
    assert_eq!(e.var, "RESETGATE_DATABASE_CA_FILE");
    assert!(e.message.contains("cannot read"), "{}", e.message);
}

#[test]
fn serve_refuses_a_pepper_anyone_can_read() {
    for public in [
        "demo-only-pepper-CHANGE-ME-never-use-outside-a-laptop-0123456789abcdef",
        "please-change-me-before-going-live-0123456789abcdef",
    ] {
        let e = serve(&with(&[("RESETGATE_PEPPER", public)])).unwrap_err();
        assert_eq!(e.var, "RESETGATE_PEPPER");
        assert!(e.message.contains("demo pepper"), "{}", e.message);
        assert!(!e.to_string().contains(public), "the value is never echoed: {e}");
        // The demo mode keeps working with whatever it is given.
        assert!(parse(Mode::Demo, &[("RESETGATE_PEPPER", public)]).is_ok());
    }
}

#[test]
fn retired_peppers_are_listed_newest_first_and_checked() {
    const CURRENT: &str = "0123456789abcdef0123456789abcdef";
    let newer = "retired-newer-0123456789abcdef0123456789";
    let older = "retired-older-0123456789abcdef0123456789";
    let list = format!("{newer}, {older}");
    let c = serve(&with(&[("RESETGATE_PEPPER_RETIRED", list.as_str())])).unwrap();
    let got: Vec<&str> = c.retired_peppers.iter().map(SecretString::expose).collect();
    assert_eq!(got, [newer, older]);
    let shown = c.to_string();
    assert!(shown.contains("RESETGATE_PEPPER_RETIRED=[redacted]"), "{shown}");
    assert!(!shown.contains("retired-newer"), "{shown}");

    let mut file = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut file, format!("{newer}\n{older}\n").as_bytes()).unwrap();
    let path = file.path().display().to_string();
    let c = serve(&with(&[("RESETGATE_PEPPER_RETIRED_FILE", path.as_str())])).unwrap();
    assert_eq!(c.retired_peppers.len(), 2);

    for (bad, why) in [
        ("short", "retired pepper #1 is shorter than 32 bytes"),
        (CURRENT, "retired pepper #1 is the current pepper"),
        (&*format!("{older} {older}"), "retired pepper #2 is listed twice"),
    ] {
        let e = serve(&with(&[("RESETGATE_PEPPER_RETIRED", bad)])).unwrap_err();
        assert_eq!(e.var, "RESETGATE_PEPPER_RETIRED");
        assert_eq!(e.message, why);
    }
}

#[test]
fn pepper_or_pepper_file_not_both() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut file, b"0123456789abcdef0123456789abcdef-from-file\n").unwrap();
    let path = file.path().display().to_string();
    let from_file: Vec<_> = OK
        .iter()
        .copied()
        .filter(|(k, _)| *k != "RESETGATE_PEPPER")
        .chain([("RESETGATE_PEPPER_FILE", path.as_str())])
        .collect();
    let c = serve(&from_file).unwrap();
    assert_eq!(c.pepper.expose(), "0123456789abcdef0123456789abcdef-from-file");
    let shown = c.to_string();
    assert!(shown.contains("RESETGATE_PEPPER=[redacted]"), "{shown}");
    assert!(!shown.contains("from-file"), "{shown}");

    let both: Vec<_> = OK
        .iter()
        .copied()
        .chain([("RESETGATE_PEPPER_FILE", path.as_str())])
        .collect();
    let e = serve(&both).unwrap_err();
    assert_eq!(e.var, "RESETGATE_PEPPER");
    assert_eq!(
        e.message,
        "set RESETGATE_PEPPER or RESETGATE_PEPPER_FILE, not both"
    );
}

#[test]
fn bad_values_name_their_variable() {
    let cases = [
        ("RESETGATE_ARGON2_M_KIB", "1024", "RESETGATE_ARGON2_M_KIB"),
        ("RESETGATE_ARGON2_T", "1", "RESETGATE_ARGON2_T"),
        ("RESETGATE_ARGON2_P", "17", "RESETGATE_ARGON2_P"),
        ("RESETGATE_TOKEN_TTL_SECS", "soon", "RESETGATE_TOKEN_TTL_SECS"),
        ("RESETGATE_TOKEN_TTL_SECS", "0", "RESETGATE_TOKEN_TTL_SECS"),
        ("RESETGATE_PEPPER", "short", "RESETGATE_PEPPER"),
        (
            "RESETGATE_PASSWORD_MAX_CHARS",
            "32",
            "RESETGATE_PASSWORD_MAX_CHARS",
        ),
        (
            "RESETGATE_PASSWORD_MAX_CHARS",
            "2000",
            "RESETGATE_PASSWORD_MAX_CHARS",
        ),
        (
            "RESETGATE_PASSWORD_MIN_CHARS",
            "4",
            "RESETGATE_PASSWORD_MIN_CHARS",
        ),
        ("RESETGATE_LISTEN", "nowhere", "RESETGATE_LISTEN"),
        (
            "RESETGATE_PASSWORD_MIN_CHARS",
            "12",
            "RESETGATE_PASSWORD_MIN_CHARS",
        ),
        (
            "RESETGATE_PASSWORD_MIN_CHARS",
            "300",
            "RESETGATE_PASSWORD_MIN_CHARS",
        ),
        (
            "RESETGATE_PASSWORD_MIN_CHARS_MFA",
            "4",
            "RESETGATE_PASSWORD_MIN_CHARS_MFA",
        ),
        (
            "RESETGATE_PASSWORD_MIN_CHARS_MFA",
            "500",
            "RESETGATE_PASSWORD_MIN_CHARS_MFA",
        ),
        (
            "RESETGATE_PUBLIC_BASE_URL",
            "ftp://x",
            "RESETGATE_PUBLIC_BASE_URL",
        ),
        (
            "RESETGATE_PUBLIC_BASE_URL",
            "http://example.com",
            "RESETGATE_PUBLIC_BASE_URL",
        ),
        (
            "RESETGATE_PUBLIC_BASE_URL",
            "https://example.com/?q",
            "RESETGATE_PUBLIC_BASE_URL",
        ),
        ("RESETGATE_MAIL_TRANSPORT", "pigeon", "RESETGATE_MAIL_TRANSPORT"),
        ("RESETGATE_MAIL_TRANSPORT", "file", "RESETGATE_MAIL_FILE"),
        ("RESETGATE_RATE_LIMITS", "maybe", "RESETGATE_RATE_LIMITS"),
        ("RESETGATE_RATE_IP_BURST", "0", "RESETGATE_RATE_IP_BURST"),
        (
            "RESETGATE_TRUSTED_PROXIES",
            "10.0.0.0/33",
            "RESETGATE_TRUSTED_PROXIES",
        ),
        (
            "RESETGATE_CLIENT_IP_HEADER",
            "x forwarded",
            "RESETGATE_CLIENT_IP_HEADER",
        ),
        ("RESETGATE_LOG_FORMAT", "xml", "RESETGATE_LOG_FORMAT"),
        (
            "RESETGATE_ADMIN_TOKEN_SHA256",
            "abc",
            "RESETGATE_ADMIN_TOKEN_SHA256",
        ),
        (
            "RESETGATE_CAMPAIGN_MARK_BATCH",
            "-5",
            "RESETGATE_CAMPAIGN_MARK_BATCH",
        ),
    ];
    for (var, value, named) in cases {
        let e = serve(&with(&[(var, value)])).unwrap_err();
        assert_eq!(e.var, named, "{var}={value}: {e}");
    }
    // A secret's value is never quoted back.
    let e = serve(&with(&[("RESETGATE_PEPPER", "short")])).unwrap_err();
    assert!(!e.to_string().contains("short"), "{e}");
}

#[test]
fn every_boolean_setting_takes_every_spelling() {
    for (raw, expected) in [
        ("on", true),
        ("off", false),
        ("true", true),
        ("FALSE", false),
        ("Yes", true),
        ("no", false),
        ("1", true),
        ("0", false),
    ] {
        let c = serve(&with(&[
            ("RESETGATE_RATE_LIMITS", raw),
            ("RESETGATE_MIGRATE_ON_START", raw),
        ]))
        .unwrap();
        assert_eq!(c.rate_limits.enabled, expected, "{raw}");
        assert_eq!(c.database.unwrap().migrate_on_start, expected, "{raw}");
    }
}

#[test]
fn demo_needs_nothing() {
    let c = parse(Mode::Demo, &[]).unwrap();
    assert!(c.database.is_none());
    assert_eq!(c.pepper.expose().len(), 43);
    assert_eq!(c.mail.transport, MailTransport::Log);
    assert_eq!(c.public_base_url.as_str(), "http://127.0.0.1:8080/");
    let shown = c.to_string();
    assert!(
        shown.contains("# RESETGATE_DATABASE_URL unused: in-memory store (NOT DURABLE)"),
        "{shown}"
    );
    assert!(shown.contains("RESETGATE_MAIL_TRANSPORT=log\n"), "{shown}");
    assert!(shown.contains("RESETGATE_PEPPER=[redacted]\n"), "{shown}");
}

#[test]
fn every_name_is_unique_and_prefixed() {
    let mut seen = BTreeSet::new();
    for s in settings() {
        let name = s.name();
        assert!(seen.insert(name), "{name} is declared twice");
        let rest = name
            .strip_prefix("RESETGATE_")
            .unwrap_or_else(|| panic!("{name}: no prefix"));
        assert!(
            !rest.is_empty()
                && rest
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'),
            "{name}: upper case, digits and underscores only"
        );
        assert!(
            !s.doc().is_empty() && !s.doc().contains('\n'),
            "{name}: one line of doc"
        );
    }
    assert!(seen.len() > 60, "only {} settings", seen.len());
}

#[test]
fn every_default_parses_and_is_inside_its_bounds() {
    for s in settings() {
        assert_eq!(s.check_default(), Ok(()), "{}", s.name());
    }
}

/// Configurations that between them reach every branch of the parser.
fn every_branch() -> Vec<Config> {
    let mut pw = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut pw, b"smtp-password\n").unwrap();
    let pw = pw.into_temp_path();
    let pw = pw.display().to_string();
    let smtp = with(&[
        ("RESETGATE_MAIL_TRANSPORT", "smtp"),
        ("RESETGATE_SMTP_HOST", "relay.example.com"),
        ("RESETGATE_SMTP_USERNAME", "mailer"),
        ("RESETGATE_SMTP_PASSWORD_FILE", &pw),
    ]);
    let file = with(&[
        ("RESETGATE_MAIL_TRANSPORT", "file"),
        ("RESETGATE_MAIL_FILE", "/tmp/mbox"),
    ]);
    vec![
        serve(OK).unwrap(),
        serve(&smtp).unwrap(),
        serve(&file).unwrap(),
        parse(Mode::Demo, &[]).unwrap(),
        parse(Mode::Migrate, &[("RESETGATE_DATABASE_URL", "postgres://db/x")]).unwrap(),
    ]
}

#[test]
fn the_parser_reads_exactly_the_declared_settings() {
    let declared: BTreeSet<&str> = settings().map(Describe::name).collect();
    let mut read = BTreeSet::new();
    for c in every_branch() {
        for name in c.effective().names() {
            assert!(declared.contains(name), "{name} is read but not in GROUPS");
            read.insert(name);
        }
        // check-config prints each setting read once, in the registry's order.
        let shown: Vec<String> = c
            .to_string()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split('=').next().unwrap_or_default().to_owned())
            .collect();
        let order: Vec<&str> = settings()
            .map(Describe::name)
            .filter(|n| shown.iter().any(|s| s == n))
            .collect();
        assert_eq!(shown, order);
    }
    let unread: Vec<_> = declared.difference(&read).collect();
    assert!(unread.is_empty(), "declared but never read: {unread:?}");
}
