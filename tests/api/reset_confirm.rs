//! POST /v1/password-reset/confirm

use chrono::Duration;
use serde_json::json;

use crate::helpers::{error_code, json, spawn_app, Backend, PASSWORD};

const NEW: &str = "an entirely new passphrase";

crate::both_backends!(
    confirm_changes_the_password,
    token_is_single_use,
    token_expires_after_its_ttl,
    policy_errors_have_codes_and_keep_the_token,
    malformed_tokens_are_invalid,
    sign_out_everywhere_revokes_old_sessions,
    sessions_survive_when_not_signing_out,
    a_password_changed_notice_is_sent,
);

async fn confirm_changes_the_password(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_account("alice@example.com", Some(PASSWORD), false)
        .await;
    let token = app.reset_token("alice@example.com").await;

    let resp = app.confirm(&token, NEW, None).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        json(resp).await,
        json!({ "status": "password_changed", "signed_out_everywhere": true, "two_step": "offered" })
    );
    assert_eq!(app.login("alice@example.com", NEW).await.status(), 200);
    assert_eq!(app.login("alice@example.com", PASSWORD).await.status(), 401);
}

async fn token_is_single_use(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_account("alice@example.com", Some(PASSWORD), false)
        .await;
    let token = app.reset_token("alice@example.com").await;
    assert_eq!(app.confirm(&token, NEW, None).await.status(), 200);

    let again = app.confirm(&token, "yet another new passphrase", None).await;
    assert_eq!(again.status(), 400);
    assert_eq!(error_code(again).await, "token_invalid_or_expired");
    assert_eq!(app.login("alice@example.com", NEW).await.status(), 200);
}

async fn token_expires_after_its_ttl(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_account("early@example.com", Some(PASSWORD), false)
        .await;
    app.create_account("late@example.com", Some(PASSWORD), false)
        .await;
    let early = app.reset_token("early@example.com").await;
    let late = app.reset_token("late@example.com").await;

    // Default TTL is 30 minutes: one second before, the token works...
    app.clock.advance(Duration::minutes(30) - Duration::seconds(1));
    assert_eq!(app.confirm(&early, NEW, None).await.status(), 200);
    // ...two seconds later it does not.
    app.clock.advance(Duration::seconds(2));
    let resp = app.confirm(&late, NEW, None).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(error_code(resp).await, "token_invalid_or_expired");
    assert_eq!(app.login("late@example.com", PASSWORD).await.status(), 200);
}

async fn policy_errors_have_codes_and_keep_the_token(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_account("alice.wonderland@example.com", Some(PASSWORD), false)
        .await;
    let token = app.reset_token("alice.wonderland@example.com").await;

    let cases = [
        ("fourteen chars", "password_too_short"),
        (&"x".repeat(257), "password_too_long"),
        (&"€".repeat(1000), "password_too_long"),
        ("PasswordPassword", "password_blocklisted"),
        ("1qaz2wsx3edc4rfv", "password_blocklisted"),
        ("Alice.Wonderland@example.com", "password_matches_email"),
        ("alice.wonderland", "password_matches_email"),
    ];
    for (password, code) in cases {
        let resp = app.confirm(&token, password, None).await;
        assert_eq!(resp.status(), 422, "{code}");
        let body = json(resp).await;
        assert_eq!(body["code"], code);
        assert!(body["detail"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // No composition rules: lowercase words with spaces are fine, and the token still works.
    assert_eq!(
        app.confirm(&token, "just some lowercase words", None)
            .await
            .status(),
        200
    );
}

async fn malformed_tokens_are_invalid(backend: Backend) {
    let app = spawn_app(backend).await;
    for token in ["", "abc", &"A".repeat(43), &"!".repeat(43), &"A".repeat(500)] {
        let resp = app.confirm(token, NEW, None).await;
        assert_eq!(resp.status(), 400, "{token}");
        assert_eq!(error_code(resp).await, "token_invalid_or_expired");
    }
}

async fn sign_out_everywhere_revokes_old_sessions(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_account("alice@example.com", Some(PASSWORD), false)
        .await;
    let laptop = app.session_token("alice@example.com", PASSWORD).await;
    let phone = app.session_token("alice@example.com", PASSWORD).await;
    assert_eq!(app.session_status(&laptop).await, 200);

    let token = app.reset_token("alice@example.com").await;
    // sign_out_everywhere omitted: defaults to true.
    assert_eq!(app.confirm(&token, NEW, None).await.status(), 200);

    assert_eq!(app.session_status(&laptop).await, 401);
    assert_eq!(app.session_status(&phone).await, 401);
    let fresh = app.session_token("alice@example.com", NEW).await;
    assert_eq!(app.session_status(&fresh).await, 200);
}

async fn sessions_survive_when_not_signing_out(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_account("alice@example.com", Some(PASSWORD), false)
        .await;
    let laptop = app.session_token("alice@example.com", PASSWORD).await;

    let token = app.reset_token("alice@example.com").await;
    let resp = app.confirm(&token, NEW, Some(false)).await;
    assert_eq!(json(resp).await["signed_out_everywhere"], false);
    assert_eq!(app.session_status(&laptop).await, 200);
}

async fn a_password_changed_notice_is_sent(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_account("alice@example.com", Some(PASSWORD), false)
        .await;
    let token = app.reset_token("alice@example.com").await;
    assert_eq!(app.confirm(&token, NEW, None).await.status(), 200);
    let mails = app.wait_for_mails("alice@example.com", 2).await;
    assert_eq!(mails[1].subject, "Your password was changed");
    assert!(mails[1].body.contains("https://reset.example.test/forgot"));
    // The reset link was built from the configured base URL.
    assert!(mails[0].body.contains("https://reset.example.test/reset?token="));
}

/// The stored hash is argon2id at the configured parameters and the token is marked used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stores_argon2id_phc_and_marks_token_used() {
    let app = spawn_app(Backend::Postgres).await;
    let id = app
        .create_account("alice@example.com", Some(PASSWORD), false)
        .await;
    let token = app.reset_token("alice@example.com").await;
    assert_eq!(app.confirm(&token, NEW, None).await.status(), 200);

    let db = app.pg().await;
    let row = db
        .query_one(
            "SELECT a.password_hash, a.session_epoch, t.used_at IS NOT NULL AS used
             FROM accounts a JOIN reset_tokens t ON t.account_id = a.id WHERE a.id = $1",
            &[&id],
        )
        .await
        .unwrap();
    let phc: String = row.get("password_hash");
    assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1,keyid="), "{phc}");
    assert!(!phc.contains(NEW));
    assert_eq!(row.get::<_, i64>("session_epoch"), 1);
    assert!(row.get::<_, bool>("used"));
}

/// If any part of a confirm fails, none of it happens: hash, token use, sign-out and notice
/// commit together.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_confirm_commits_all_or_nothing() {
    let app = spawn_app(Backend::Postgres).await;
    app.create_account("alice@example.com", Some(PASSWORD), false)
        .await;
    let session = app.session_token("alice@example.com", PASSWORD).await;
    let token = app.reset_token("alice@example.com").await;
    let db = app.pg().await;
    db.batch_execute(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
             $$ BEGIN RAISE EXCEPTION 'notice insert broken'; END $$;
         CREATE TRIGGER refuse_notice BEFORE INSERT ON outbox FOR EACH ROW
             WHEN (NEW.kind = 'password_changed') EXECUTE FUNCTION refuse();",
    )
    .await
    .unwrap();

    let resp = app.confirm(&token, NEW, None).await;
    assert_eq!(resp.status(), 500);
    assert!(!resp.text().await.unwrap().contains("notice insert broken"));
    // Nothing moved: old password, old session, unused token.
    assert_eq!(app.login("alice@example.com", PASSWORD).await.status(), 200);
    assert_eq!(app.session_status(&session).await, 200);
    let row = db
        .query_one(
            "SELECT t.used_at IS NULL AS unused, a.session_epoch FROM reset_tokens t
             JOIN accounts a ON a.id = t.account_id",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>("unused"));
    assert_eq!(row.get::<_, i64>("session_epoch"), 0);

    // Once the fault is gone, the same token completes the reset.
    db.batch_execute("DROP TRIGGER refuse_notice ON outbox")
        .await
        .unwrap();
    assert_eq!(app.confirm(&token, NEW, None).await.status(), 200);
    assert_eq!(app.session_status(&session).await, 401);
}
