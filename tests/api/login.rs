//! POST /v1/login and GET /v1/session

use chrono::Duration;
use resetgate::clock::Clock as _;

use crate::helpers::{error_code, json, spawn_app, Backend, PASSWORD};

crate::both_backends!(
    login_opens_a_session,
    unknown_email_and_wrong_password_look_the_same,
    account_without_password_cannot_log_in,
    bad_session_tokens_are_rejected,
    sessions_expire,
    expired_sessions_and_tokens_are_purged,
    imported_legacy_hashes_log_in_and_are_upgraded,
    legacy_hashes_of_unnormalised_passwords_still_log_in,
);

/// Another system hashed the bytes as typed; with a decomposed accent (as macOS keyboards send)
/// NFKC changes them, and the raw bytes are tried too.
async fn legacy_hashes_of_unnormalised_passwords_still_log_in(backend: Backend) {
    let app = spawn_app(backend).await;
    let decomposed = "cafe\u{301} au lait every morning";
    let composed = "caf\u{e9} au lait every morning";
    app.import_legacy_account("legacy@example.com", decomposed).await;
    assert_eq!(app.login("legacy@example.com", decomposed).await.status(), 200);
    // After the upgrade the normalised form is stored: both spellings work.
    for _ in 0..100 {
        let email = resetgate::reset::email::EmailAddress::parse("legacy@example.com").unwrap();
        if app
            .store
            .account_by_email(&email)
            .await
            .unwrap()
            .unwrap()
            .password_peppered
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(app.login("legacy@example.com", composed).await.status(), 200);
    assert_eq!(app.login("legacy@example.com", decomposed).await.status(), 200);
}

async fn imported_legacy_hashes_log_in_and_are_upgraded(backend: Backend) {
    let app = spawn_app(backend).await;
    app.import_legacy_account("legacy@example.com", "an old but fine passphrase")
        .await;
    assert_eq!(
        app.login("legacy@example.com", "the wrong passphrase")
            .await
            .status(),
        401
    );
    assert_eq!(
        app.login("legacy@example.com", "an old but fine passphrase")
            .await
            .status(),
        200
    );

    // The upgrade runs after the response; wait for it to land.
    let email = resetgate::reset::email::EmailAddress::parse("legacy@example.com").unwrap();
    let mut upgraded = None;
    for _ in 0..100 {
        let account = app.store.account_by_email(&email).await.unwrap().unwrap();
        if account.password_peppered {
            upgraded = account.password_hash;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let phc = upgraded.expect("hash upgraded after login");
    assert!(
        phc.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1,keyid="),
        "{}",
        phc.as_str()
    );
    assert_eq!(
        app.login("legacy@example.com", "an old but fine passphrase")
            .await
            .status(),
        200
    );
    assert_eq!(
        app.login("legacy@example.com", "the wrong passphrase")
            .await
            .status(),
        401
    );
    // The rehash ran in the background lane.
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"resetgate_hash_jobs_total{lane="background",outcome="completed"} 1"#),
        "{metrics}"
    );
}

async fn login_opens_a_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app
        .create_account("alice@example.com", Some(PASSWORD), false)
        .await;
    let token = app.session_token("ALICE@example.com", PASSWORD).await;
    let resp = app
        .client
        .get(app.url("/v1/session"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(json(resp).await["account_id"], id);
}

async fn unknown_email_and_wrong_password_look_the_same(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_account("alice@example.com", Some(PASSWORD), false)
        .await;
    let wrong = app.login("alice@example.com", "not the right passphrase").await;
    let unknown = app.login("nobody@example.com", PASSWORD).await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(unknown.status(), 401);
    assert_eq!(json(wrong).await, json(unknown).await);
    // Both paths paid for one argon2 verification (the unknown one against a dummy hash).
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("resetgate_hash_jobs_total{lane=\"login\",outcome=\"completed\"} 2"),
        "{metrics}"
    );
}

async fn account_without_password_cannot_log_in(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_account("imported@example.com", None, false).await;
    let resp = app.login("imported@example.com", "").await;
    assert_eq!(resp.status(), 401);
    assert_eq!(error_code(resp).await, "invalid_credentials");
}

async fn bad_session_tokens_are_rejected(backend: Backend) {
    let app = spawn_app(backend).await;
    let missing = app.get("/v1/session").await;
    assert_eq!(missing.status(), 401);
    assert_eq!(error_code(missing).await, "session_invalid");
    for header in [
        "Bearer",
        "Bearer nope",
        "Basic dXNlcjpwdw==",
        &format!("Bearer {}", "A".repeat(43)),
    ] {
        let resp = app
            .client
            .get(app.url("/v1/session"))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{header}");
    }
}

async fn sessions_expire(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_account("alice@example.com", Some(PASSWORD), false)
        .await;
    let token = app.session_token("alice@example.com", PASSWORD).await;
    app.clock.advance(Duration::hours(12) + Duration::seconds(1));
    assert_eq!(app.session_status(&token).await, 401);
}

async fn expired_sessions_and_tokens_are_purged(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_account("alice@example.com", Some(PASSWORD), false)
        .await;
    let session = app.session_token("alice@example.com", PASSWORD).await;
    app.reset_token("alice@example.com").await;
    // Delivered mail is kept: only sessions and tokens are counted here.
    let keep_mail = app.clock.now() - Duration::days(30);
    assert_eq!(
        app.store.purge_expired(app.clock.now(), keep_mail).await.unwrap(),
        0,
        "nothing is expired yet"
    );

    app.clock.advance(Duration::hours(13));
    assert_eq!(
        app.store.purge_expired(app.clock.now(), keep_mail).await.unwrap(),
        3,
        "one session, one token, one rate-limit window"
    );
    assert_eq!(app.session_status(&session).await, 401);
    if backend == Backend::Postgres {
        let db = app.pg().await;
        let left: i64 = db
            .query_one(
                "SELECT (SELECT count(*) FROM sessions) + (SELECT count(*) FROM reset_tokens)
                      + (SELECT count(*) FROM reset_request_counts)",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(left, 0);
    }
}
