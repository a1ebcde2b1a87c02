//! The gateway as a separate process, for the test that kills it with SIGKILL mid-campaign.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, BufReader};

use super::fixtures::free_port;
use crate::helpers::{sha256_hex, ADMIN_TOKEN, BASE_URL, PEPPER};

/// `resetgate serve` as a child process: the real binary, killed with SIGKILL by the test.
pub(super) struct Gateway {
    child: tokio::process::Child,
    pub(super) admin: String,
    pub(super) log: PathBuf,
    // Held so the child's stdout stays open: a closed pipe would make its next println! fail.
    _stdout: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

/// Sends in flight per process, and SMTP connections to carry them: a SIGKILL can catch at most
/// this many messages between the relay's 250 and the row being marked sent.
pub(super) const SERVE_CONCURRENCY: usize = 8;

impl Gateway {
    pub(super) async fn start(db_url: &str, smtp_port: u16, logs: &Path, nth: usize) -> Self {
        let admin_port = free_port();
        let log = logs.join(format!("serve-{nth}.log"));
        let concurrency = SERVE_CONCURRENCY.to_string();
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_resetgate"))
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            .env("RESETGATE_DATABASE_URL", db_url)
            .env("RESETGATE_PEPPER", PEPPER)
            .env("RESETGATE_PUBLIC_BASE_URL", BASE_URL)
            .env("RESETGATE_LISTEN", "127.0.0.1:0")
            .env("RESETGATE_OPS_LISTEN", "127.0.0.1:0")
            .env("RESETGATE_ADMIN_LISTEN", format!("127.0.0.1:{admin_port}"))
            .env("RESETGATE_ADMIN_TOKEN_SHA256", sha256_hex(ADMIN_TOKEN))
            .env("RESETGATE_MAIL_TRANSPORT", "smtp")
            .env("RESETGATE_SMTP_HOST", "127.0.0.1")
            .env("RESETGATE_SMTP_PORT", smtp_port.to_string())
            .env("RESETGATE_SMTP_TLS", "none")
            .env("RESETGATE_MAIL_POLL_MS", "20")
            .env("RESETGATE_MAIL_CONCURRENCY", &concurrency)
            .env("RESETGATE_SMTP_POOL_SIZE", &concurrency)
            // Messages the killed process had claimed come back when their lease ends: a short
            // one (it must outlast three SMTP timeouts) so the test waits seconds, not a minute.
            .env("RESETGATE_SMTP_TIMEOUT_MS", "1000")
            .env("RESETGATE_MAIL_LEASE_MS", "4000")
            // 3000 notices take ~20 s: time to kill the process while it sends.
            .env("RESETGATE_MAIL_RATE_PER_SEC", "150")
            // Small batches so marking 3000 accounts spans many transactions we can cut into.
            .env("RESETGATE_CAMPAIGN_MARK_BATCH", "20")
            .env("RESETGATE_CAMPAIGN_ENQUEUE_BATCH", "100")
            .env("RESETGATE_CAMPAIGN_POLL_MS", "20")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .kill_on_drop(true)
            .spawn()
            .expect("spawn resetgate serve");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let started = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = stdout.next_line().await {
                if line.contains("resetgate listening on") {
                    return true;
                }
            }
            false
        })
        .await;
        assert!(
            matches!(started, Ok(true)),
            "resetgate serve did not start; its log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        Self {
            child,
            admin: format!("http://127.0.0.1:{admin_port}"),
            log,
            _stdout: stdout,
        }
    }

    /// SIGKILL: no drain, no shutdown hook, connections cut mid-transaction and mid-SMTP.
    pub(super) async fn kill9(&mut self) {
        self.child.start_kill().expect("SIGKILL");
        let status = self.child.wait().await.expect("reap");
        assert!(!status.success(), "killed, not exited: {status}");
    }

    pub(super) async fn progress(&self, client: &reqwest::Client, id: i64) -> Value {
        let resp = client
            .get(format!("{}/admin/v1/campaigns/{id}", self.admin))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("admin request");
        assert_eq!(resp.status(), 200);
        resp.json().await.expect("progress JSON")
    }
}
