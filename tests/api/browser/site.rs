//! The gateway as a browser meets it: on PostgreSQL, mail over SMTP to the real sink, and served
//! at the very URL its `RESETGATE_PUBLIC_BASE_URL` names, so that the links in the mail are the
//! ones the browser opens and the Origin check sees our own origin. Variants that shed every
//! request or rate limit the second one give the busy and the limited pages.

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt as _;

use crate::helpers::{spawn_app_with, Backend, TestApp, PASSWORD};
use crate::smtp_sink::{Received, SinkOptions, SmtpSink};

pub const ALICE: &str = "alice@example.com";
/// In the blocklist (data/common-passwords.txt) and long enough: refused as common, not short.
pub const COMMON_PASSWORD: &str = "passwordpassword";
pub const NEW_PASSWORD: &str = "a brand new passphrase of mine";
/// Passes a browser's `type=email` check (no dot needed) but not the gateway's.
pub const BAD_ADDRESS: &str = "alice@localhost";
const MAIL_WAIT: Duration = Duration::from_secs(15);

pub struct Site {
    pub app: TestApp,
    pub sink: SmtpSink,
    /// `http://127.0.0.1:PORT/`, with the slash: paths are joined to it.
    pub base: String,
}

impl Site {
    /// A gateway with alice's account, served at its public base URL.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Every browser request is shed (503) while a [`Site::hold_the_only_slot`] holds on.
    pub async fn shedding() -> Self {
        // The held request must outlive the checks made meanwhile: no 10 s timeout ends it.
        Self::start_with(&[
            ("RESETGATE_MAX_IN_FLIGHT", "1"),
            ("RESETGATE_REQUEST_TIMEOUT_MS", "120000"),
        ])
        .await
    }

    /// One worker on costly hashes with a queue budget of a millisecond: while
    /// [`Site::occupy_the_worker`] hashes, every other sign-in is put in line.
    pub async fn queueing() -> Self {
        Self::start_with(&[
            ("RESETGATE_HASH_WORKERS", "1"),
            ("RESETGATE_HASH_QUEUE_BUDGET_MS", "1"),
            ("RESETGATE_HASH_DEADLINE_MS", "60000"),
            ("RESETGATE_ARGON2_M_KIB", "65536"),
            ("RESETGATE_ARGON2_T", "48"),
            // Put in line at once, not held at the front (docs/waiting-room.md).
            ("RESETGATE_WAIT_HOLD_MS", "0"),
        ])
        .await
    }

    /// Starts a login that keeps the one worker of [`Site::queueing`] busy (seconds at its
    /// parameters), and returns once it does.
    pub async fn occupy_the_worker(&self) -> tokio::task::JoinHandle<()> {
        let (client, url) = (self.app.client.clone(), self.app.url("/v1/login"));
        let busy = tokio::spawn(async move {
            let body = serde_json::json!({ "email": ALICE, "password": PASSWORD });
            client
                .post(url)
                .json(&body)
                .send()
                .await
                .expect("the occupying login");
        });
        let deadline = Instant::now() + MAIL_WAIT;
        while !self.app.metrics().await.contains("resetgate_hash_in_flight 1") {
            assert!(Instant::now() < deadline, "the worker never got busy");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        busy
    }

    /// The second request from this machine within a minute is rate limited (429).
    pub async fn limiting() -> Self {
        Self::start_with(&[
            ("RESETGATE_RATE_IP_BURST", "1"),
            ("RESETGATE_RATE_IP_PER_MIN", "1"),
        ])
        .await
    }

    async fn start_with(overrides: &[(&str, &str)]) -> Self {
        let sink = SmtpSink::start(&SinkOptions::default()).await;
        // The public base URL must name the listening port, so the port is chosen first; the
        // moment between freeing it and the gateway binding it is the only race, and it is short.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let listen = format!("127.0.0.1:{port}");
        let base = format!("http://127.0.0.1:{port}/");
        let smtp_port = sink.port.to_string();
        let mut vars = vec![
            ("RESETGATE_LISTEN", listen.as_str()),
            ("RESETGATE_PUBLIC_BASE_URL", base.as_str()),
            ("RESETGATE_MAIL_TRANSPORT", "smtp"),
            ("RESETGATE_SMTP_HOST", "127.0.0.1"),
            ("RESETGATE_SMTP_PORT", &smtp_port),
            ("RESETGATE_SMTP_TLS", "none"),
            ("RESETGATE_SMTP_TIMEOUT_MS", "3000"),
            // Branded as an operator would, so axe, the validator and the screenshots see the
            // header and the support footer too.
            ("RESETGATE_PRODUCT_NAME", "Example Co"),
            ("RESETGATE_SUPPORT_CONTACT", "help@example.com"),
        ];
        vars.extend_from_slice(overrides);
        let app = spawn_app_with(Backend::Postgres, &vars).await;
        assert_eq!(app.addr.port(), port);
        app.create_account(ALICE, Some(PASSWORD), false).await;
        Self { app, sink, base }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Waits for the `n`th mail (1-based) at the SMTP sink.
    pub async fn mail(&self, n: usize) -> Received {
        self.sink
            .wait_for(n, MAIL_WAIT)
            .await
            .into_iter()
            .nth(n - 1)
            .expect("n mails")
    }

    /// Creates `email`'s account and marks it in a finished campaign that requires two-step
    /// verification after the reset (and revokes its sessions).
    pub async fn require_two_step_of(&self, email: &str) {
        self.app.create_account(email, Some(PASSWORD), false).await;
        let id = self
            .app
            .start_campaign(&serde_json::json!({
                "scope": { "emails": [email] }, "revoke_sessions": true, "notify": false,
                "require_two_step": true, "reason": "breach day"
            }))
            .await;
        self.app
            .wait_campaign(id, Duration::from_secs(30), |p| p["phase"] == "completed")
            .await;
    }

    /// The reset link in the `n`th mail, checked to point at this site's /reset page.
    pub async fn reset_link(&self, n: usize) -> String {
        let mail = self.mail(n).await;
        self.link_in(&mail)
    }

    /// The reset link in the first mail to `to` that carries one, however many mails to others
    /// (notices sent meanwhile) come before it.
    pub async fn reset_link_to(&self, to: &str) -> String {
        let deadline = Instant::now() + MAIL_WAIT;
        loop {
            let found = self.sink.messages().into_iter().find(|m| {
                m.to.iter().any(|t| t == to) && m.text.as_deref().is_some_and(|t| t.contains("/reset?token="))
            });
            if let Some(mail) = found {
                return self.link_in(&mail);
            }
            assert!(Instant::now() < deadline, "no reset link reached {to}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn link_in(&self, mail: &Received) -> String {
        let text = mail.text.as_deref().expect("a text part");
        let link = text
            .split_whitespace()
            .find(|w| w.contains("/reset?token="))
            .unwrap_or_else(|| panic!("no reset link in\n{text}"))
            .to_owned();
        assert!(
            link.starts_with(&self.url("reset?token=")),
            "the link is built from the public base URL {}: {link}",
            self.base
        );
        link
    }

    /// Occupies the gateway's one in-flight slot ([`Site::shedding`]) with a form post whose body
    /// never arrives, and returns once a browser request is shed. Dropping the stream frees it.
    pub async fn hold_the_only_slot(&self) -> tokio::net::TcpStream {
        let mut held = tokio::net::TcpStream::connect(self.app.addr)
            .await
            .expect("connect");
        held.write_all(
            b"POST /v1/password-reset/request HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 1000\r\n\r\n{",
        )
        .await
        .expect("send a partial request");
        let deadline = Instant::now() + MAIL_WAIT;
        loop {
            let status = self
                .app
                .client
                .get(self.url("forgot"))
                .header("accept", "text/html")
                .send()
                .await
                .expect("request")
                .status();
            if status == 503 {
                return held;
            }
            assert!(Instant::now() < deadline, "never shed; last status {status}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
