//! The binary itself: demo mode with no database, migrate and create-account, the campaign and
//! admin-token commands. How it reads its configuration is in cli/config.rs.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncBufReadExt as _, BufReader};

use crate::helpers::{legacy_hash, spawn_app_on, TestDb, PEPPER};

mod config;

pub const BIN: &str = env!("CARGO_BIN_EXE_resetgate");

/// A clean environment: nothing from the developer's shell leaks into the child's config.
pub fn resetgate() -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "info");
    cmd
}

pub type Lines = tokio::io::Lines<BufReader<tokio::process::ChildStdout>>;

/// A `resetgate` child process serving on loopback (public and ops listeners on port 0, so tests
/// never collide), started and listening.
pub struct GatewayChild {
    pub process: tokio::process::Child,
    pub stdout: Lines,
    /// The public listener, e.g. `http://127.0.0.1:40113`.
    pub base: String,
}

impl GatewayChild {
    /// Starts `cmd` (a [`resetgate`] with its subcommand and settings) and waits until it listens.
    pub async fn start(cmd: Command) -> Self {
        let mut process = tokio::process::Command::from(cmd)
            .env("RESETGATE_LISTEN", "127.0.0.1:0")
            .env("RESETGATE_OPS_LISTEN", "127.0.0.1:0")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn resetgate");
        let mut stdout = BufReader::new(process.stdout.take().expect("stdout")).lines();
        let listening = next_line_containing(&mut stdout, "listening on http://").await;
        let base = listening
            .split("listening on ")
            .nth(1)
            .expect("address")
            .trim()
            .to_owned();
        Self {
            process,
            stdout,
            base,
        }
    }

    /// Everything the child writes to stderr, read all along so that a full pipe never blocks it;
    /// the handle yields it once the child has exited.
    pub fn collect_stderr(&mut self) -> tokio::task::JoinHandle<Vec<u8>> {
        let mut stderr = self.process.stderr.take().expect("stderr not taken yet");
        tokio::spawn(async move {
            let mut all = Vec::new();
            let _ = tokio::io::AsyncReadExt::read_to_end(&mut stderr, &mut all).await;
            all
        })
    }

    /// SIGTERM, then the drain and a clean exit within `within`.
    pub async fn stop(mut self, within: Duration) {
        sigterm(&self.process);
        exits_cleanly(&mut self.process, within).await;
    }
}

/// Sends SIGTERM, as systemd, Kubernetes or a container runtime would to stop the gateway.
pub fn sigterm(child: &tokio::process::Child) {
    let pid = child.id().expect("the child is running").to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
}

/// Waits for the child to exit 0 within `within`: it drained and stopped on its own.
pub async fn exits_cleanly(child: &mut tokio::process::Child, within: Duration) {
    let status = tokio::time::timeout(within, child.wait())
        .await
        .expect("exits after SIGTERM")
        .unwrap();
    assert!(status.success(), "{status:?}");
}

/// `resetgate ARGS` on `db`, with the test pepper.
pub fn on_db(db: &TestDb, args: &[&str]) -> Command {
    let mut cmd = resetgate();
    cmd.args(args)
        .env("RESETGATE_DATABASE_URL", &db.url)
        .env("RESETGATE_PEPPER", PEPPER);
    cmd
}

pub async fn next_line_containing(lines: &mut Lines, needle: &str) -> String {
    tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            if line.contains(needle) {
                return line;
            }
        }
        panic!("stdout closed before {needle:?}");
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {needle:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_mode_works_with_no_database() {
    let mut cmd = resetgate();
    cmd.args(["demo", "--seed-email", "demo@example.com"])
        .env("RESETGATE_RESET_FLOOR_MS", "10")
        .env("RESETGATE_MAIL_POLL_MS", "20");
    let mut gateway = GatewayChild::start(cmd).await;
    let stderr = gateway.collect_stderr();
    let (base, stdout) = (gateway.base.clone(), &mut gateway.stdout);
    let client = reqwest::Client::new();

    let resp = client
        .post(format!("{base}/v1/password-reset/request"))
        .json(&json!({ "email": "demo@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let link = next_line_containing(stdout, "?token=").await;
    let token = link.split("?token=").nth(1).expect("token").trim().to_owned();

    let resp = client
        .post(format!("{base}/v1/password-reset/confirm"))
        .json(&json!({ "token": token, "new_password": "correct horse battery staple" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = client
        .post(format!("{base}/v1/login"))
        .json(&json!({ "email": "demo@example.com", "password": "correct horse battery staple" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // SIGTERM: drains and exits 0.
    gateway.stop(Duration::from_secs(10)).await;
    let err = String::from_utf8_lossy(&stderr.await.unwrap()).into_owned();
    assert!(err.contains("NOTHING IS DURABLE"), "no loud warning in:\n{err}");
    assert!(!err.contains(&token), "the reset token reached the logs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_and_create_account_then_log_in() {
    let db = TestDb::create().await;
    let with_db = |args: &[&str]| {
        let mut cmd = on_db(&db, args);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    };
    let out = with_db(&["migrate"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let out = with_db(&["migrate"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("applied 0 migration"),
        "{out:?}"
    );

    let create = |email: &'static str, password: &'static str| {
        let mut child = with_db(&["create-account", "--email", email, "--password-stdin"])
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(password.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let out = create("ops@example.com", "an operator chose this passphrase\n");
    assert!(out.status.success(), "{out:?}");
    let again = create("ops@example.com", "an operator chose this passphrase\n");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let weak = create("weak@example.com", "password\n");
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("password_too_short"));

    let imported = with_db(&[
        "create-account",
        "--email",
        "imported@example.com",
        "--password-hash",
        "$2b$12$notargon2notargon2notargon2notargon2notargon2notargon2",
    ])
    .output()
    .unwrap();
    assert!(!imported.status.success(), "non-argon2 hash must be refused");

    // A hash exported from a legacy system (argon2id, no pepper) imports and logs in.
    let legacy = with_db(&[
        "create-account",
        "--email",
        "legacy@example.com",
        "--password-hash",
        &legacy_hash("a passphrase from the old system"),
    ])
    .output()
    .unwrap();
    assert!(legacy.status.success(), "{legacy:?}");

    let app = spawn_app_on(Some(db), &[]).await;
    assert_eq!(
        app.login("ops@example.com", "an operator chose this passphrase")
            .await
            .status(),
        200
    );
    assert_eq!(
        app.login("legacy@example.com", "a passphrase from the old system")
            .await
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaign_commands_start_inspect_and_steer_a_campaign() {
    let db = TestDb::create().await;
    let with_db = |args: &[&str]| {
        let mut cmd = resetgate();
        cmd.args(args)
            .env("RESETGATE_DATABASE_URL", &db.url)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.output().unwrap()
    };
    let out = with_db(&["migrate"]);
    assert!(out.status.success(), "{out:?}");
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO accounts (email, created_at, updated_at)
             SELECT 'u' || g || '@example.com', now(), now() FROM generate_series(1, 4) g",
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("breached.txt");
    std::fs::write(
        &list,
        "# from the dump\nU1@example.com\nu3@example.com\nnobody@example.com\n",
    )
    .unwrap();

    let out = with_db(&[
        "campaign",
        "start",
        "--emails-file",
        list.to_str().unwrap(),
        "--revoke-sessions",
        "--notify",
        "--reason",
        "dump of 2026-11-24",
    ]);
    assert!(out.status.success(), "{out:?}");
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(created["accounts_total"], 2);
    assert_eq!(created["unmatched"], 1);
    let id = created["id"].as_i64().unwrap().to_string();

    let out = with_db(&["campaign", "status", &id]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["phase"], "marking", "no gateway has run it yet");
    assert_eq!(status["reason"], "dump of 2026-11-24");

    for (action, state) in [
        ("pause", "paused"),
        ("resume", "running"),
        ("cancel", "cancelled"),
    ] {
        let out = with_db(&["campaign", action, &id]);
        assert!(out.status.success(), "{out:?}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["state"], state);
    }
    let out = with_db(&["campaign", "resume", &id]);
    assert!(!out.status.success(), "a cancelled campaign stays cancelled");
    let out = with_db(&["campaign", "status", "999"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no campaign 999"));
    let out = with_db(&["campaign", "start", "--reason", "no scope"]);
    assert!(!out.status.success(), "a scope is required");

    // A gateway picks up a campaign started from the CLI.
    let out = with_db(&["campaign", "start", "--all", "--reason", "everyone"]);
    let id: i64 = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["id"]
        .as_i64()
        .unwrap();
    let app = spawn_app_on(Some(db), &[]).await;
    let p = app
        .wait_campaign(id, Duration::from_secs(30), |p| p["phase"] == "completed")
        .await;
    assert_eq!(p["marked"], 4);
}

#[test]
fn admin_token_prints_a_token_and_its_digest() {
    let out = resetgate().arg("admin-token").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let token = text
        .lines()
        .find_map(|l| l.strip_prefix("admin token (for operators; shown once): "))
        .expect("token line");
    let digest = text
        .lines()
        .find_map(|l| l.strip_prefix("RESETGATE_ADMIN_TOKEN_SHA256="))
        .expect("digest line");
    assert_eq!(token.len(), 43);
    assert_eq!(digest, crate::helpers::sha256_hex(token));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_mfa_removes_a_factor_and_records_who_did_it() {
    let app = spawn_app_on(Some(TestDb::create().await), &[]).await;
    let id = app.create_account("lost-phone@example.com", None, false).await;
    let factors = app.store.clone().factors();
    let now = resetgate::clock::Clock::now(app.clock.as_ref());
    assert!(factors.begin_totp(id, b"sealed", now).await.unwrap());
    assert!(factors.confirm_totp(id, 1, &[], now).await.unwrap());
    let url = app.db.as_ref().unwrap().url.clone();
    let clear = |args: &[&str]| {
        resetgate()
            .arg("clear-mfa")
            .args(args)
            .env("RESETGATE_DATABASE_URL", &url)
            .env("RESETGATE_PEPPER", PEPPER)
            .output()
            .unwrap()
    };
    let nameless = clear(&["--email", "lost-phone@example.com", "--admin", " "]);
    assert!(!nameless.status.success());
    assert!(
        String::from_utf8_lossy(&nameless.stderr).contains("--admin"),
        "{nameless:?}"
    );

    let out = clear(&["--email", "lost-phone@example.com", "--admin", "alice"]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("recorded as admin:alice"));
    assert!(factors.totp(id).await.unwrap().is_none());
    let last = factors.audit_trail(id).await.unwrap().pop().unwrap();
    assert_eq!(
        (last.event.as_str(), last.actor.as_str()),
        ("mfa_cleared", "admin:alice")
    );
    // The owner is told, whoever cleared it.
    let queued: Vec<String> = app
        .pg()
        .await
        .query(
            "SELECT kind FROM outbox WHERE recipient = 'lost-phone@example.com'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(queued.contains(&"mfa_removed".to_owned()), "{queued:?}");

    let again = clear(&["--email", "lost-phone@example.com", "--admin", "alice"]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("has no second factor"),
        "{again:?}"
    );
    let unknown = clear(&["--email", "nobody@example.com", "--admin", "alice"]);
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("no account"),
        "{unknown:?}"
    );
}
