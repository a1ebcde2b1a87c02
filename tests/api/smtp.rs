//! The SMTP transport against a real SMTP server (aiosmtpd, see smtp_sink.rs): what the relay
//! receives, AUTH, TLS, an outage and a permanent refusal, all through the real gateway on
//! PostgreSQL.

use std::time::Duration;

use crate::helpers::{spawn_app_with, Backend, TestApp, BASE_URL, PASSWORD};
use crate::smtp_sink::{SinkOptions, SmtpSink, TestCert};

const NEW: &str = "an entirely new passphrase";
const WAIT: Duration = Duration::from_secs(10);

/// A gateway on PostgreSQL whose mail goes over SMTP; `vars` adds the RESETGATE_SMTP_* settings.
async fn spawn_with_smtp(vars: &[(&str, &str)]) -> TestApp {
    let mut all = vec![
        ("RESETGATE_MAIL_TRANSPORT", "smtp"),
        ("RESETGATE_SMTP_TIMEOUT_MS", "3000"),
    ];
    all.extend_from_slice(vars);
    spawn_app_with(Backend::Postgres, &all).await
}

#[derive(Debug)]
struct OutboxRow {
    status: String,
    attempts: i32,
    last_error: Option<String>,
}

async fn outbox_row(app: &TestApp, recipient: &str) -> Option<OutboxRow> {
    app.pg()
        .await
        .query_opt(
            "SELECT status, attempts, last_error FROM outbox
             WHERE recipient = $1 AND kind = 'password_reset' ORDER BY id DESC LIMIT 1",
            &[&recipient],
        )
        .await
        .expect("query outbox")
        .map(|r| OutboxRow {
            status: r.get(0),
            attempts: r.get(1),
            last_error: r.get(2),
        })
}

/// Polls the newest reset mail row of `recipient` until `done` holds; panics with the row after
/// `WAIT`.
async fn wait_for_row(app: &TestApp, recipient: &str, done: impl Fn(&OutboxRow) -> bool) -> OutboxRow {
    let start = std::time::Instant::now();
    loop {
        let row = outbox_row(app, recipient).await;
        if let Some(row) = row {
            if done(&row) {
                return row;
            }
            assert!(
                start.elapsed() < WAIT,
                "outbox row never reached the expected state: {row:?}"
            );
        } else {
            assert!(start.elapsed() < WAIT, "no outbox row for {recipient}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_mail_arrives_over_smtp_and_its_link_resets_the_password() {
    let sink = SmtpSink::start(&SinkOptions::default()).await;
    let port = sink.port.to_string();
    let app = spawn_with_smtp(&[
        ("RESETGATE_SMTP_HOST", "127.0.0.1"),
        ("RESETGATE_SMTP_PORT", &port),
        ("RESETGATE_SMTP_TLS", "none"),
        ("RESETGATE_MAIL_FROM", "Example Accounts <accounts@example.test>"),
    ])
    .await;
    app.create_account("alice@example.com", Some(PASSWORD), false)
        .await;

    assert_eq!(app.request_reset("alice@example.com").await.status(), 202);
    let mail = sink.wait_for(1, WAIT).await.remove(0);

    assert_eq!(mail.from, "accounts@example.test");
    assert_eq!(mail.to, ["alice@example.com"]);
    assert_eq!(mail.header("To"), Some("alice@example.com"));
    assert_eq!(
        mail.header("From"),
        Some("\"Example Accounts\" <accounts@example.test>")
    );
    assert_eq!(mail.subject, "Reset your password");
    assert!(mail.header("Date").is_some(), "{:?}", mail.headers);
    let id = mail.message_id.as_deref().expect("a Message-ID");
    assert!(
        id.starts_with('<') && id.ends_with('>') && id.contains('@'),
        "{id}"
    );
    assert_eq!(mail.content_type, "multipart/alternative");
    let text = mail.text.as_deref().expect("a text/plain part");
    let html = mail.html.as_deref().expect("a text/html part");
    let token = mail.token();
    let link = format!("{BASE_URL}reset?token={token}");
    assert!(text.contains(&link), "{text}");
    assert!(html.contains(&format!("href=\"{link}\"")), "{html}");
    // Nothing else in the message points anywhere but the configured base URL.
    for part in [text, html] {
        for (at, _) in part.match_indices("://") {
            let start = part[..at]
                .rfind(|c: char| !c.is_ascii_alphanumeric())
                .map_or(0, |i| i + 1);
            assert!(part[start..].starts_with(BASE_URL), "foreign link in {part}");
        }
    }

    assert_eq!(app.confirm(&token, NEW, None).await.status(), 200);
    assert_eq!(app.login("alice@example.com", NEW).await.status(), 200);
    assert_eq!(app.login("alice@example.com", PASSWORD).await.status(), 401);
    let notice = sink.wait_for(2, WAIT).await.remove(1);
    assert_eq!(notice.subject, "Your password was changed");
    assert_eq!(notice.to, ["alice@example.com"]);
    wait_for_row(&app, "alice@example.com", |r| r.status == "sent").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_with_the_right_password_delivers_and_a_wrong_one_keeps_mail_pending() {
    let sink = SmtpSink::start(&SinkOptions {
        auth: Some(("mailer", "relay-secret")),
        ..SinkOptions::default()
    })
    .await;
    let port = sink.port.to_string();
    let smtp = |password| {
        [
            ("RESETGATE_SMTP_HOST", "127.0.0.1"),
            ("RESETGATE_SMTP_PORT", port.as_str()),
            // Clear-text AUTH is accepted because the relay is on loopback.
            ("RESETGATE_SMTP_TLS", "none"),
            ("RESETGATE_SMTP_USERNAME", "mailer"),
            ("RESETGATE_SMTP_PASSWORD", password),
        ]
    };

    let good = spawn_with_smtp(&smtp("relay-secret")).await;
    good.create_account("alice@example.com", Some(PASSWORD), false)
        .await;
    assert_eq!(good.request_reset("alice@example.com").await.status(), 202);
    let mail = sink.wait_for(1, WAIT).await.remove(0);
    assert_eq!(mail.to, ["alice@example.com"]);
    assert_eq!(mail.auth_login.as_deref(), Some("mailer"));
    wait_for_row(&good, "alice@example.com", |r| r.status == "sent").await;

    let bad = spawn_with_smtp(&smtp("wrong-secret")).await;
    bad.create_account("bob@example.com", Some(PASSWORD), false).await;
    assert_eq!(bad.request_reset("bob@example.com").await.status(), 202);
    // 535 is about our credentials, not the message: retried later, never dead-lettered.
    let row = wait_for_row(&bad, "bob@example.com", |r| r.attempts >= 1).await;
    assert_eq!(row.status, "pending", "{row:?}");
    let err = row.last_error.unwrap_or_default();
    assert!(err.contains("535"), "{err}");
    assert!(
        !err.contains("wrong-secret"),
        "the password reached the outbox: {err}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        sink.messages().len(),
        1,
        "only the authenticated gateway's mail arrived"
    );
    assert_eq!(
        outbox_row(&bad, "bob@example.com").await.unwrap().status,
        "pending"
    );
}

/// A gateway sending in plain text to a relay on loopback `port`.
async fn spawn_plain(port: u16) -> TestApp {
    let port = port.to_string();
    spawn_with_smtp(&[
        ("RESETGATE_SMTP_HOST", "127.0.0.1"),
        ("RESETGATE_SMTP_PORT", &port),
        ("RESETGATE_SMTP_TLS", "none"),
    ])
    .await
}

/// A relay speaking TLS (`starttls` or `tls`) with a self-signed localhost certificate, a gateway
/// pointed at it that trusts the certificate only when `trust` is set, and a reset requested.
async fn reset_over_tls(mode: &str, trust: bool) -> (TestCert, SmtpSink, TestApp) {
    let cert = TestCert::localhost();
    let options = if mode == "tls" {
        SinkOptions {
            tls: Some(&cert),
            ..SinkOptions::default()
        }
    } else {
        SinkOptions {
            starttls: Some(&cert),
            ..SinkOptions::default()
        }
    };
    let sink = SmtpSink::start(&options).await;
    let port = sink.port.to_string();
    let ca = cert.cert.display().to_string();
    let mut vars = vec![
        ("RESETGATE_SMTP_HOST", "localhost"),
        ("RESETGATE_SMTP_PORT", port.as_str()),
        ("RESETGATE_SMTP_TLS", mode),
    ];
    if trust {
        vars.push(("RESETGATE_SMTP_CA_FILE", &ca));
    }
    let app = spawn_with_smtp(&vars).await;
    app.create_account("alice@example.com", Some(PASSWORD), false)
        .await;
    assert_eq!(app.request_reset("alice@example.com").await.status(), 202);
    (cert, sink, app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_delivers_to_a_relay_signed_by_the_configured_ca() {
    let (_cert, sink, app) = reset_over_tls("starttls", true).await;
    let mail = sink.wait_for(1, WAIT).await.remove(0);
    assert!(mail.tls, "the session was not encrypted");
    assert_eq!(mail.to, ["alice@example.com"]);
    wait_for_row(&app, "alice@example.com", |r| r.status == "sent").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_refuses_a_relay_it_cannot_verify() {
    // No RESETGATE_SMTP_CA_FILE: the self-signed certificate is not trusted.
    let (_cert, sink, app) = reset_over_tls("starttls", false).await;
    let row = wait_for_row(&app, "alice@example.com", |r| r.attempts >= 1).await;
    assert_eq!(row.status, "pending", "{row:?}");
    let err = row.last_error.unwrap_or_default();
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    assert!(sink.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implicit_tls_delivers_to_a_relay_signed_by_the_configured_ca() {
    let (_cert, sink, app) = reset_over_tls("tls", true).await;
    let mail = sink.wait_for(1, WAIT).await.remove(0);
    assert!(mail.tls, "the session was not encrypted");
    wait_for_row(&app, "alice@example.com", |r| r.status == "sent").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_waits_out_a_relay_outage_and_is_delivered_once() {
    // A port with nothing listening: bind one, note it, let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let app = spawn_plain(port).await;
    app.create_account("alice@example.com", Some(PASSWORD), false)
        .await;
    assert_eq!(app.request_reset("alice@example.com").await.status(), 202);

    let row = wait_for_row(&app, "alice@example.com", |r| r.attempts >= 1).await;
    assert_eq!(row.status, "pending", "{row:?}");
    // The retry is scheduled on the manual clock: however long we wait, no second attempt.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let row = outbox_row(&app, "alice@example.com").await.unwrap();
    assert_eq!((row.status.as_str(), row.attempts), ("pending", 1), "{row:?}");

    let sink = SmtpSink::start_on_port(port, &SinkOptions::default()).await;
    // The first backoff is 2 s ± 25 %; a minute is well past it.
    app.clock.advance(chrono::Duration::minutes(1));
    wait_for_row(&app, "alice@example.com", |r| r.status == "sent").await;
    let mails = sink.wait_for(1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mails_after = sink.messages();
    assert_eq!(mails_after.len(), 1, "delivered more than once: {mails_after:?}");
    assert_eq!(mails[0].to, ["alice@example.com"]);
    assert_eq!(mails[0].subject, "Reset your password");
    // The token in the late mail still works.
    assert_eq!(app.confirm(&mails[0].token(), NEW, None).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_restart_costs_no_mail() {
    let mut sink = SmtpSink::start(&SinkOptions::default()).await;
    let port = sink.port;
    let app = spawn_plain(port).await;
    app.create_account("alice@example.com", Some(PASSWORD), false)
        .await;
    app.create_account("bob@example.com", Some(PASSWORD), false).await;
    assert_eq!(app.request_reset("alice@example.com").await.status(), 202);
    sink.wait_for(1, WAIT).await;
    // Alice's row is marked sent a moment after the relay's 250; stopping the relay inside that
    // moment is the documented at-least-once window, and would resend her mail below.
    wait_for_row(&app, "alice@example.com", |r| r.status == "sent").await;

    // The pool still holds a connection to the old process; it must notice it is gone.
    sink.stop().await;
    assert_eq!(app.request_reset("bob@example.com").await.status(), 202);
    let row = wait_for_row(&app, "bob@example.com", |r| r.attempts >= 1).await;
    assert_eq!(row.status, "pending", "{row:?}");

    let sink = SmtpSink::start_on_port(port, &SinkOptions::default()).await;
    app.clock.advance(chrono::Duration::minutes(1));
    let mails = sink.wait_for(1, WAIT).await;
    assert_eq!(mails[0].to, ["bob@example.com"]);
    wait_for_row(&app, "bob@example.com", |r| r.status == "sent").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanently_rejected_recipient_is_dead_at_once() {
    let sink = SmtpSink::start(&SinkOptions::default()).await;
    let app = spawn_plain(sink.port).await;
    // The sink answers 550 to any recipient containing "reject".
    app.create_account("reject-me@example.com", Some(PASSWORD), false)
        .await;
    assert_eq!(app.request_reset("reject-me@example.com").await.status(), 202);

    let row = wait_for_row(&app, "reject-me@example.com", |r| r.status != "pending").await;
    assert_eq!((row.status.as_str(), row.attempts), ("dead", 1), "{row:?}");
    let err = row.last_error.unwrap_or_default();
    assert!(err.contains("550"), "{err}");
    // Dead means no retry, however far the clock moves.
    app.clock.advance(chrono::Duration::hours(2));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let row = outbox_row(&app, "reject-me@example.com").await.unwrap();
    assert_eq!((row.status.as_str(), row.attempts), ("dead", 1), "{row:?}");
    assert!(sink.messages().is_empty());
}
