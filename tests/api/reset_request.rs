//! POST /v1/password-reset/request

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::helpers::{error_code, json, spawn_app, spawn_app_with, Backend, PASSWORD};

crate::both_backends!(
    known_and_unknown_emails_get_the_same_response,
    invalid_email_is_rejected,
    a_newer_token_replaces_the_older_one,
    email_lookup_is_case_insensitive,
    known_and_unknown_both_wait_out_the_timing_floor,
    a_repeat_request_within_the_cooldown_keeps_the_link_and_sends_nothing,
    a_request_after_the_cooldown_issues_a_new_link,
    a_reset_mail_whose_link_expired_in_the_queue_is_dropped,
);

const RESET_SUBJECT: &str = "Reset your password";

fn resets_to(app: &crate::helpers::TestApp, to: &str) -> usize {
    app.mails()
        .iter()
        .filter(|m| m.to == to && m.subject == RESET_SUBJECT)
        .count()
}

/// The attacker with the leaked list asks again and again for one address: its owner gets one mail
/// and the link in it keeps working; from outside every answer is the same 202.
async fn a_repeat_request_within_the_cooldown_keeps_the_link_and_sends_nothing(backend: Backend) {
    let app = spawn_app_with(backend, &[("RESETGATE_RESET_COOLDOWN_SECS", "600")]).await;
    app.create_account("alice@example.com", Some(PASSWORD), false)
        .await;
    let first = app.reset_token("alice@example.com").await;
    let answer = json(app.request_reset("alice@example.com").await).await;
    for _ in 0..4 {
        let again = app.request_reset("alice@example.com").await;
        assert_eq!(again.status(), 202);
        assert_eq!(json(again).await, answer);
    }
    // A later, genuine request for someone else is mailed: the dispatcher is running, so had the
    // repeats queued anything it would have gone out before this.
    app.create_account("bob@example.com", Some(PASSWORD), false).await;
    app.reset_token("bob@example.com").await;
    assert_eq!(resets_to(&app, "alice@example.com"), 1);
    assert!(app
        .metrics()
        .await
        .contains(r#"resetgate_reset_requests_total{outcome="cooldown"} 5"#));
    assert_eq!(
        app.confirm(&first, "the first link still works after the flood", None)
            .await
            .status(),
        200
    );
}

async fn a_request_after_the_cooldown_issues_a_new_link(backend: Backend) {
    let app = spawn_app_with(backend, &[("RESETGATE_RESET_COOLDOWN_SECS", "60")]).await;
    app.create_account("alice@example.com", Some(PASSWORD), false)
        .await;
    let first = app.reset_token("alice@example.com").await;
    app.clock.advance(chrono::Duration::seconds(61));
    let second = app.reset_token("alice@example.com").await;
    assert_ne!(first, second);
    assert_eq!(resets_to(&app, "alice@example.com"), 2);
    let resp = app.confirm(&first, "the first link was replaced", None).await;
    assert_eq!(error_code(resp).await, "token_invalid_or_expired");
}

/// A reset mail that waited in the queue past its link's lifetime would only deliver a dead link
/// and spend budget a live one needs: it is dropped and counted, never sent.
async fn a_reset_mail_whose_link_expired_in_the_queue_is_dropped(backend: Backend) {
    // One mail a second and a clock that only moves when told: the second mail waits.
    let app = spawn_app_with(
        backend,
        &[
            ("RESETGATE_MAIL_RATE_PER_SEC", "1"),
            ("RESETGATE_MAIL_BURST", "1"),
            ("RESETGATE_TOKEN_TTL_SECS", "600"),
        ],
    )
    .await;
    app.create_account("alice@example.com", Some(PASSWORD), false)
        .await;
    app.create_account("bob@example.com", Some(PASSWORD), false).await;
    app.reset_token("alice@example.com").await;
    assert_eq!(app.request_reset("bob@example.com").await.status(), 202);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        resets_to(&app, "bob@example.com"),
        0,
        "bob's mail should wait for budget"
    );
    app.clock.advance(chrono::Duration::seconds(601));
    let expired = r#"resetgate_outbox_failed_total{outcome="expired"} 1"#;
    let mut metrics = String::new();
    for _ in 0..200 {
        metrics = app.metrics().await;
        if metrics.contains(expired) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(metrics.contains(expired), "{metrics}");
    // A fresh request after the drop is mailed as usual.
    let token = app.reset_token("bob@example.com").await;
    assert_eq!(resets_to(&app, "bob@example.com"), 1);
    assert_eq!(
        app.confirm(&token, "bob's fresh link works fine", None)
            .await
            .status(),
        200
    );
}

async fn known_and_unknown_both_wait_out_the_timing_floor(backend: Backend) {
    let app = spawn_app_with(backend, &[("RESETGATE_RESET_FLOOR_MS", "300")]).await;
    app.create_account("alice@example.com", Some(PASSWORD), false)
        .await;
    for email in ["alice@example.com", "nobody@example.com"] {
        let started = std::time::Instant::now();
        assert_eq!(app.request_reset(email).await.status(), 202);
        let elapsed = started.elapsed();
        assert!(
            elapsed >= std::time::Duration::from_millis(300),
            "{email} answered in {elapsed:?}"
        );
    }
    // Neither path's real work came near the floor, so the padding hid it completely.
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("resetgate_reset_timing_floor_exceeded_total 0"),
        "{metrics}"
    );
}

async fn known_and_unknown_emails_get_the_same_response(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_account("alice@example.com", Some(PASSWORD), false)
        .await;

    let known = app.request_reset("alice@example.com").await;
    let unknown = app.request_reset("nobody@example.com").await;

    assert_eq!(known.status(), 202);
    assert_eq!(unknown.status(), 202);
    let header_names = |r: &reqwest::Response| {
        let mut names: Vec<String> = r.headers().keys().map(|k| k.as_str().to_owned()).collect();
        names.sort();
        names
    };
    assert_eq!(header_names(&known), header_names(&unknown));
    let known: Value = json(known).await;
    let unknown: Value = json(unknown).await;
    assert_eq!(known, unknown);

    // The known account gets its mail; the unknown address gets nothing.
    app.wait_for_mails("alice@example.com", 1).await;
    assert!(app.mails().iter().all(|m| m.to != "nobody@example.com"));
}

async fn invalid_email_is_rejected(backend: Backend) {
    let app = spawn_app(backend).await;
    for bad in ["", "not-an-address", "a@b", "x@example.com\r\nBcc: y@example.com"] {
        let resp = app.request_reset(bad).await;
        assert_eq!(resp.status(), 400, "{bad:?}");
        assert_eq!(error_code(resp).await, "invalid_email");
    }
}

async fn a_newer_token_replaces_the_older_one(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_account("alice@example.com", Some(PASSWORD), false)
        .await;
    let first = app.reset_token("alice@example.com").await;
    let second = app.reset_token("alice@example.com").await;
    assert_ne!(first, second);

    let resp = app.confirm(&first, "the first token is dead now", None).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(error_code(resp).await, "token_invalid_or_expired");
    assert_eq!(
        app.confirm(&second, "the second token still works", None)
            .await
            .status(),
        200
    );
}

async fn email_lookup_is_case_insensitive(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_account("alice@example.com", Some(PASSWORD), false)
        .await;
    assert_eq!(app.request_reset("  ALICE@Example.com ").await.status(), 202);
    app.wait_for_mails("alice@example.com", 1).await;
}

/// The token and its mail are written in one transaction, and only the token's hash is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stores_only_the_token_hash_and_an_outbox_row() {
    let app = spawn_app(Backend::Postgres).await;
    let id = app
        .create_account("alice@example.com", Some(PASSWORD), false)
        .await;
    let token = app.reset_token("alice@example.com").await;

    let db = app.pg().await;
    let row = db
        .query_one(
            "SELECT token_hash, expires_at - created_at AS ttl, used_at IS NULL AS unused
             FROM reset_tokens WHERE account_id = $1",
            &[&id],
        )
        .await
        .unwrap();
    let stored: Vec<u8> = row.get("token_hash");
    assert_eq!(stored, Sha256::digest(token.as_bytes()).to_vec());
    assert!(row.get::<_, bool>("unused"));

    let ttl_secs: f64 = db
        .query_one(
            "SELECT extract(epoch FROM expires_at - created_at)::float8 FROM reset_tokens",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!((ttl_secs - 1800.0).abs() < 1.0, "ttl {ttl_secs}");

    // The mail reaches the mbox a moment before the dispatcher marks its row sent.
    for _ in 0..500 {
        let sent: bool = db
            .query_one("SELECT bool_and(status = 'sent') FROM outbox", &[])
            .await
            .unwrap()
            .get::<_, Option<bool>>(0)
            .unwrap_or(false);
        if sent {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mails = db
        .query(
            "SELECT kind, recipient, sealed_secret, status FROM outbox ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].get::<_, String>("kind"), "password_reset");
    assert_eq!(mails[0].get::<_, String>("recipient"), "alice@example.com");
    // Delivered: its sealed token is gone. Nowhere in the table is the plain token.
    assert_eq!(mails[0].get::<_, String>("status"), "sent");
    assert!(mails[0].get::<_, Option<Vec<u8>>>("sealed_secret").is_none());
    let dump: String = db
        .query_one("SELECT coalesce(string_agg(t::text, ''), '') FROM outbox t", &[])
        .await
        .unwrap()
        .get(0);
    assert!(!dump.contains(&token));
}

/// If the outbox insert fails, the token insert is rolled back with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_token_and_outbox_commit_together_or_not_at_all() {
    let app = spawn_app(Backend::Postgres).await;
    app.create_account("alice@example.com", Some(PASSWORD), false)
        .await;
    let db = app.pg().await;
    db.batch_execute(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
             $$ BEGIN RAISE EXCEPTION 'outbox is broken (secret internal detail)'; END $$;
         CREATE TRIGGER refuse_outbox BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION refuse();",
    )
    .await
    .unwrap();

    let resp = app.request_reset("alice@example.com").await;
    assert_eq!(resp.status(), 500);
    let body = resp.text().await.unwrap();
    assert!(body.contains("internal_error"), "{body}");
    assert!(
        !body.contains("secret internal detail"),
        "internal error leaked: {body}"
    );

    let tokens: i64 = db
        .query_one("SELECT count(*) FROM reset_tokens", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(tokens, 0, "token row survived a failed outbox insert");
}
