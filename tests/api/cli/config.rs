//! How the binary reads its configuration: `check-config` prints it redacted, and a bad or
//! unknown setting stops any command with exit 64 before it does anything.

use super::resetgate;
use crate::helpers::PEPPER;

#[test]
fn check_config_prints_redacted_config_and_exits_64_when_invalid() {
    let ok = resetgate()
        .arg("check-config")
        .env(
            "RESETGATE_DATABASE_URL",
            "postgres://app:hunter2@db.internal/resetgate",
        )
        .env("RESETGATE_PEPPER", PEPPER)
        .env("RESETGATE_PUBLIC_BASE_URL", "https://example.com")
        .env("RESETGATE_MAIL_TRANSPORT", "log")
        .output()
        .unwrap();
    assert!(ok.status.success(), "{ok:?}");
    let out = String::from_utf8(ok.stdout).unwrap();
    assert!(out.contains("RESETGATE_ARGON2_M_KIB=19456"), "{out}");
    assert!(out.contains("RESETGATE_PEPPER=[redacted]"), "{out}");
    assert!(!out.contains(PEPPER) && !out.contains("hunter2"), "{out}");

    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[], "RESETGATE_DATABASE_URL"),
        (
            &[
                ("RESETGATE_DATABASE_URL", "postgres://db/x"),
                ("RESETGATE_PEPPER", PEPPER),
                ("RESETGATE_PUBLIC_BASE_URL", "https://example.com"),
                ("RESETGATE_ARGON2_M_KIB", "4096"),
            ],
            "below the minimum",
        ),
        (
            &[
                ("RESETGATE_DATABASE_URL", "postgres://db/x"),
                ("RESETGATE_PEPPER", "short"),
                ("RESETGATE_PUBLIC_BASE_URL", "https://example.com"),
            ],
            "RESETGATE_PEPPER",
        ),
        (
            &[
                ("RESETGATE_DATABASE_URL", "postgres://db/x"),
                ("RESETGATE_PEPPER", PEPPER),
                ("RESETGATE_PUBLIC_BASE_URL", "https://example.com"),
                ("RESETGATE_MAIL_TRANSPORT", "smtp"),
                ("RESETGATE_SMTP_HOST", "relay.example.com"),
                ("RESETGATE_SMTP_TLS", "none"),
                ("RESETGATE_SMTP_USERNAME", "mailer"),
                ("RESETGATE_SMTP_PASSWORD", "short"),
            ],
            "RESETGATE_SMTP_TLS: none would send the SMTP password in clear text",
        ),
    ];
    for (vars, expected) in cases {
        let out = resetgate()
            .arg("check-config")
            .envs(vars.iter().copied())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(64), "{vars:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(expected), "{err}");
        assert!(!err.contains("short"), "pepper value leaked: {err}");
    }
}

#[test]
fn an_unknown_setting_stops_every_command_that_reads_config() {
    let out = resetgate()
        .args(["check-config", "--mode", "demo"])
        .env("RESETGATE_MAX_INFLIGHT", "3")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64), "{out:?}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("RESETGATE_MAX_INFLIGHT: unknown setting (did you mean RESETGATE_MAX_IN_FLIGHT?)"),
        "{err}"
    );
    assert!(
        out.stdout.is_empty(),
        "nothing printed as if the config were fine"
    );

    // Refused before anything else is read or connected to, whatever the command.
    for args in [
        &["demo"][..],
        &["serve"],
        &["migrate"],
        &["campaign", "status", "1"],
    ] {
        let out = resetgate()
            .args(args)
            .env("RESETGATE_DATABASE_URL", "postgres://127.0.0.1:1/nothing")
            .env("RESETGATE_HASH_QUEUE_BUDGET", "50")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(64), "{args:?}: {out:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(
            err.contains("did you mean RESETGATE_HASH_QUEUE_BUDGET_MS?"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn every_boolean_spelling_works_from_the_environment() {
    for (raw, shown) in [
        ("false", "false"),
        ("OFF", "false"),
        ("no", "false"),
        ("1", "true"),
    ] {
        let out = resetgate()
            .args(["check-config", "--mode", "demo"])
            .env("RESETGATE_RATE_LIMITS", raw)
            .output()
            .unwrap();
        assert!(out.status.success(), "{raw}: {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains(&format!("RESETGATE_RATE_LIMITS={shown}\n")),
            "{raw}: {text}"
        );
    }
}
