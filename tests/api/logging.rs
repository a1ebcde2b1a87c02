//! The binary's logs: JSON lines a machine can parse, text without colour codes unless a person
//! at a terminal is reading it, and a bad `RESETGATE_LOG_FORMAT` refused like any bad setting.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::cli::{on_db, resetgate, GatewayChild, BIN};
use crate::helpers::{TestDb, PEPPER};

/// Runs the gateway (`cmd` is set up by the caller), makes one reset request carrying `request_id`,
/// stops it with SIGTERM and returns everything it wrote to stderr.
async fn one_request_then_stop(mut cmd: Command, request_id: &str) -> Vec<u8> {
    cmd.env("RESETGATE_RESET_FLOOR_MS", "10");
    let mut gateway = GatewayChild::start(cmd).await;
    let stderr = gateway.collect_stderr();
    let base = gateway.base.clone();
    let resp = reqwest::Client::new()
        .post(format!("{base}/v1/password-reset/request"))
        .header("x-request-id", request_id)
        .json(&serde_json::json!({ "email": "nobody@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    gateway.stop(Duration::from_secs(10)).await;
    stderr.await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line_with_the_request_id() {
    let db = TestDb::create().await;
    let mut cmd = resetgate();
    cmd.arg("serve")
        .env("RESETGATE_LOG_FORMAT", "json")
        .env("RESETGATE_DATABASE_URL", &db.url)
        .env("RESETGATE_PEPPER", PEPPER)
        .env("RESETGATE_PUBLIC_BASE_URL", "http://127.0.0.1/")
        .env("RESETGATE_MAIL_TRANSPORT", "log");
    let stderr = String::from_utf8(one_request_then_stop(cmd, "json-log-test-1").await).unwrap();

    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}\n{stderr}")))
        .collect();
    assert!(lines.len() >= 3, "{stderr}");
    for line in &lines {
        for key in ["timestamp", "level", "target"] {
            assert!(line[key].is_string(), "no {key}: {line}");
        }
        assert!(line["fields"].is_object(), "no fields: {line}");
    }
    let served = lines
        .iter()
        .find(|l| l["fields"]["message"] == "served")
        .unwrap_or_else(|| panic!("no request log line in:\n{stderr}"));
    assert_eq!(served["level"], "INFO");
    assert_eq!(served["fields"]["status"], 202);
    assert_eq!(served["span"]["name"], "request");
    assert_eq!(served["span"]["id"], "json-log-test-1", "{served}");
    assert_eq!(served["span"]["route"], "reset_request", "{served}");
    assert_eq!(served["spans"][0]["id"], "json-log-test-1", "{served}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_logs_into_a_pipe_have_no_colour_codes() {
    let mut cmd = resetgate();
    cmd.arg("demo");
    let stderr = one_request_then_stop(cmd, "text-log-test-1").await;
    let text = String::from_utf8_lossy(&stderr);
    assert!(
        text.contains("served") && text.contains("text-log-test-1"),
        "{text}"
    );
    assert!(!stderr.contains(&0x1b), "ANSI escape in piped logs:\n{text}");
}

/// The demo under a pseudo-terminal (util-linux `script`), for two seconds: what a person sees.
fn demo_on_a_terminal(no_color: Option<&str>) -> Vec<u8> {
    let mut cmd = Command::new("script");
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "info")
        .env("RESETGATE_LISTEN", "127.0.0.1:0")
        .env("RESETGATE_OPS_LISTEN", "127.0.0.1:0")
        .args(["-qfc", &format!("timeout -s TERM 2 {BIN} demo"), "/dev/null"])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit());
    if let Some(v) = no_color {
        cmd.env("NO_COLOR", v);
    }
    let out = cmd
        .output()
        .expect("util-linux `script` runs the demo on a pseudo-terminal (Debian package bsdutils)");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("nothing is durable"),
        "{out:?}"
    );
    out.stdout
}

#[test]
fn a_terminal_gets_colour_unless_no_color_is_set() {
    assert!(
        demo_on_a_terminal(None).contains(&0x1b),
        "no colour on a terminal"
    );
    let plain = demo_on_a_terminal(Some("1"));
    assert!(!plain.contains(&0x1b), "{}", String::from_utf8_lossy(&plain));
}

#[test]
fn a_bad_log_format_is_a_config_error_for_every_command() {
    for args in [
        &["check-config", "--mode", "demo"][..],
        &["admin-token"],
        &["demo"],
    ] {
        let out = resetgate()
            .args(args)
            .env("RESETGATE_LOG_FORMAT", "xml")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(64), "{args:?}: {out:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(
            err.contains("RESETGATE_LOG_FORMAT: cannot parse \"xml\""),
            "{err}"
        );
        assert!(out.stdout.is_empty(), "{args:?} ran anyway");
    }
    let out = resetgate()
        .args(["check-config", "--mode", "demo"])
        .env("RESETGATE_LOG_FORMAT", "JSON")
        .output()
        .unwrap();
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("RESETGATE_LOG_FORMAT=json\n"));
}

/// A log reader that goes away (a crashed log shipper) must not take the gateway with it: it keeps
/// answering, and still drains and exits 0 on SIGTERM.
#[tokio::test]
async fn a_closed_log_pipe_does_not_crash_the_gateway() {
    for format in ["json", "text"] {
        let mut cmd = resetgate();
        cmd.arg("demo")
            .env("RESETGATE_LOG_FORMAT", format)
            .env("RESETGATE_RESET_FLOOR_MS", "10");
        let mut gateway = GatewayChild::start(cmd).await;
        // Only now: closing earlier would race the demo banner, printed before anything listens.
        drop(gateway.process.stderr.take());
        let base = gateway.base.clone();
        for _ in 0..3 {
            let resp = reqwest::Client::new()
                .post(format!("{base}/v1/password-reset/request"))
                .json(&serde_json::json!({ "email": "nobody@example.com" }))
                .send()
                .await
                .unwrap_or_else(|e| panic!("{format}: the gateway stopped answering: {e}"));
            assert_eq!(resp.status(), 202, "{format}");
        }
        gateway.stop(Duration::from_secs(10)).await;
    }
}

/// Every second-factor secret a person handles, through the real binary at `RUST_LOG=debug`
/// (which also lets tokio-postgres log its statements and parameters): the password, the TOTP
/// key as shown and as typed, the codes, every recovery code, the challenge and the sessions.
/// None of them may appear anywhere in what the gateway writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_second_factor_secret_reaches_the_logs() {
    use std::io::Write as _;

    const EMAIL: &str = "log-secrets@example.com";
    const PASSWORD: &str = "a passphrase nobody logs, ever";
    let db = TestDb::create().await;
    let with_db = |args: &[&str]| {
        let mut cmd = on_db(&db, args);
        cmd.env("RUST_LOG", "debug");
        cmd
    };
    let mut create = with_db(&["create-account", "--email", EMAIL, "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    create
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .unwrap();
    let created = create.wait_with_output().unwrap();
    assert!(created.status.success(), "{created:?}");

    let mut cmd = with_db(&["serve"]);
    cmd.env("RESETGATE_PUBLIC_BASE_URL", "http://127.0.0.1/")
        .env("RESETGATE_MAIL_TRANSPORT", "log")
        .env("RESETGATE_LOG_FORMAT", "json");
    let mut gateway = GatewayChild::start(cmd).await;
    let stderr = gateway.collect_stderr();
    let http = reqwest::Client::new();
    let base = gateway.base.clone();
    let post = |path: &str, bearer: Option<&str>, body: serde_json::Value| {
        let mut req = http.post(format!("{base}{path}")).json(&body);
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<serde_json::Value>().await.unwrap_or_default())
        }
    };
    let login = serde_json::json!({ "email": EMAIL, "password": PASSWORD });
    let (status, body) = post("/v1/login", None, login.clone()).await;
    assert_eq!(status, 200, "{body}");
    let session = body["session_token"].as_str().unwrap().to_owned();
    let (status, begun) = post("/v1/mfa/totp", Some(&session), serde_json::json!({})).await;
    assert_eq!(status, 201, "{begun}");
    let shown = begun["secret"].as_str().unwrap().to_owned();
    let bytes = totp_rs::Secret::try_from_base32(shown.replace(' ', "")).unwrap();
    let secret = resetgate::mfa::totp::TotpSecret::from_bytes(bytes.as_bytes()).unwrap();
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let code = secret.code_at(now());
    let (status, on) = post(
        "/v1/mfa/totp/confirm",
        Some(&session),
        serde_json::json!({ "code": code }),
    )
    .await;
    assert_eq!(status, 200, "{on}");
    let recovery: Vec<String> = on["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    // A wrong code and a recovery code, so the refusal and the audit paths log too.
    let (status, challenged) = post("/v1/login", None, login).await;
    assert_eq!(status, 401, "{challenged}");
    let challenge = challenged["challenge"].as_str().unwrap().to_owned();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (status, _) = post(
        "/v1/login/mfa",
        None,
        serde_json::json!({ "challenge": challenge, "code": wrong }),
    )
    .await;
    assert_eq!(status, 401);
    let (status, second) = post(
        "/v1/login/mfa",
        None,
        serde_json::json!({ "challenge": challenge, "recovery_code": recovery[0] }),
    )
    .await;
    assert_eq!(status, 200, "{second}");
    let second_session = second["session_token"].as_str().unwrap().to_owned();
    gateway.stop(Duration::from_secs(10)).await;
    let logs = String::from_utf8_lossy(&stderr.await.unwrap()).into_owned();

    assert!(
        logs.contains("executing statement"),
        "the debug level was on, database statements included: {logs}"
    );
    let mut secrets = vec![
        PASSWORD.to_owned(),
        shown.clone(),
        shown.replace(' ', ""),
        // Six digits alone turn up by chance (timestamps); as a logged value they would not.
        format!("\"{code}\""),
        format!("={code}"),
        challenge,
        session,
        second_session,
    ];
    for r in &recovery {
        secrets.push(r.clone());
        secrets.push(r.replace('-', ""));
    }
    for s in &secrets {
        assert!(!logs.contains(s.as_str()), "a secret reached the logs");
    }
}
