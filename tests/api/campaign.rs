//! Breach-day campaigns through the admin API, on PostgreSQL: marking, session revocation,
//! notification, the forced-reset login, pause/resume/cancel, scopes and the admin token.

use std::time::Duration;

use reqwest::Method;
use resetgate::clock::Clock as _;
use serde_json::{json, Value};

use crate::helpers::{error_code, json, spawn_app, spawn_app_with, Backend, TestApp, ADMIN_TOKEN, PASSWORD};

const NEW_PASSWORD: &str = "a brand new passphrase, long enough";
const WAIT: Duration = Duration::from_secs(30);

fn completed(p: &Value) -> bool {
    p["phase"] == "completed"
}

fn notices_to(app: &TestApp, to: &str) -> usize {
    app.mails()
        .iter()
        .filter(|m| m.to == to && m.subject.starts_with("Action required"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_forces_resets_revokes_sessions_and_notifies_each_account_once() {
    let app = spawn_app(Backend::Postgres).await;
    let emails = ["ann@example.com", "bob@example.org", "cat@example.net"];
    let mut sessions = Vec::new();
    for e in emails {
        app.create_account(e, Some(PASSWORD), false).await;
        sessions.push(app.session_token(e, PASSWORD).await);
    }
    let id = app
        .start_campaign(&json!({
            "scope": "all", "revoke_sessions": true, "notify": true, "reason": "breach 2026-11"
        }))
        .await;
    let p = app.wait_campaign(id, WAIT, completed).await;
    assert_eq!(p["accounts_total"], 3);
    assert_eq!(p["marked"], 3);
    assert_eq!(p["notified"], 3);
    assert_eq!(p["emails"]["sent"], 3);
    assert_eq!(p["emails"]["pending"], 0);
    assert_eq!(p["state"], "running");

    for s in &sessions {
        assert_eq!(app.session_status(s).await, 401, "sessions are revoked");
    }
    for e in emails {
        assert_eq!(notices_to(&app, e), 1, "one notice for {e}");
    }

    // The old password is right but no longer opens a session, and the answer is a wrong
    // password's, so whoever holds the leak cannot confirm it; the owner gets a reset link.
    let resp = app.login(emails[0], PASSWORD).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(error_code(resp).await, "invalid_credentials");
    // The notice, then the link the login sent.
    let mails = app.wait_for_mails(emails[0], 2).await;
    let link = mails
        .iter()
        .find(|m| m.subject == "Reset your password")
        .expect("the forced-reset login mails a reset link");
    let token = link.token();
    // A wrong password is still just wrong: the forced reset is not revealed to a guesser.
    let resp = app.login(emails[0], "not the password at all, really").await;
    assert_eq!(error_code(resp).await, "invalid_credentials");

    let resp = app.confirm(&token, NEW_PASSWORD, None).await;
    assert_eq!(resp.status(), 200);
    let fresh = app.session_token(emails[0], NEW_PASSWORD).await;
    assert_eq!(app.session_status(&fresh).await, 200);
    // The others are still forced.
    assert_eq!(app.login(emails[1], PASSWORD).await.status(), 401);

    let metrics = app.metrics().await;
    let marked_line = format!("resetgate_campaign_accounts{{campaign=\"{id}\",stage=\"marked\"}} 3");
    let deadline = std::time::Instant::now() + WAIT;
    let mut metrics = metrics;
    while !metrics.contains(&marked_line) {
        assert!(
            std::time::Instant::now() < deadline,
            "progress is exported: {metrics}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        metrics = app.metrics().await;
    }
    assert!(metrics.contains("resetgate_outbox_sent_total{kind=\"campaign_notice\"} 3"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scopes_select_accounts_and_sessions_can_be_kept() {
    let app = spawn_app(Backend::Postgres).await;
    let a = app.create_account("a@example.com", Some(PASSWORD), false).await;
    app.create_account("b@example.com", Some(PASSWORD), false).await;
    app.create_account("c@example.com", Some(PASSWORD), false).await;
    let session_c = app.session_token("c@example.com", PASSWORD).await;

    let by_id = app
        .start_campaign(&json!({
            "scope": {"account_ids": [a, 999_999]}, "revoke_sessions": true, "notify": false, "reason": "ids"
        }))
        .await;
    let p = app.wait_campaign(by_id, WAIT, completed).await;
    assert_eq!(p["accounts_total"], 1);
    assert_eq!(p["notified"], 0, "notify: false sends nothing");

    let resp = app
        .admin(Method::POST, "/admin/v1/campaigns")
        .json(&json!({
            "scope": {"emails": ["C@Example.com", "nobody@example.com"]},
            "revoke_sessions": false, "notify": true, "reason": "emails"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert!(resp.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/admin/v1/campaigns/"));
    let created = json(resp).await;
    assert_eq!(created["accounts_total"], 1);
    assert_eq!(
        created["unmatched"], 1,
        "the operator sees how much of the list matched"
    );
    app.wait_campaign(created["id"].as_i64().unwrap(), WAIT, completed)
        .await;

    assert_eq!(app.login("a@example.com", PASSWORD).await.status(), 401);
    assert_eq!(
        app.login("b@example.com", PASSWORD).await.status(),
        200,
        "b is out of scope"
    );
    assert_eq!(app.login("c@example.com", PASSWORD).await.status(), 401);
    assert_eq!(
        app.session_status(&session_c).await,
        200,
        "revoke_sessions: false keeps sessions"
    );
    assert_eq!(notices_to(&app, "c@example.com"), 1);
    assert_eq!(notices_to(&app, "a@example.com"), 0);

    // created_before: accounts made after the cut-off are not in scope.
    app.clock.advance(chrono::Duration::seconds(1));
    let cutoff = app.clock.now();
    app.clock.advance(chrono::Duration::seconds(1));
    app.create_account("late@example.com", Some(PASSWORD), false)
        .await;
    let before = app
        .start_campaign(&json!({
            "scope": {"created_before": cutoff.to_rfc3339()}, "revoke_sessions": true, "notify": false,
            "reason": "before"
        }))
        .await;
    let p = app.wait_campaign(before, WAIT, completed).await;
    assert_eq!(p["accounts_total"], 3);
    assert_eq!(app.login("late@example.com", PASSWORD).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_holds_mail_resume_sends_it_cancel_drops_it() {
    // One message a second: the campaign is still sending when we pause it.
    let app = spawn_app_with(
        Backend::Postgres,
        &[
            ("RESETGATE_MAIL_RATE_PER_SEC", "1"),
            ("RESETGATE_MAIL_BURST", "1"),
        ],
    )
    .await;
    for i in 0..6 {
        app.create_account(&format!("u{i}@example.com"), None, false)
            .await;
    }
    let body = json!({ "scope": "all", "revoke_sessions": false, "notify": true, "reason": "pace" });
    let id = app.start_campaign(&body).await;
    app.wait_campaign(id, WAIT, |p| p["notified"] == 6).await;

    let pause = |action: &'static str| {
        app.admin(Method::POST, &format!("/admin/v1/campaigns/{id}/{action}"))
            .send()
    };
    let resp = pause("pause").await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(json(resp).await["state"], "paused");
    let p = app.campaign(id).await;
    assert_eq!(p["phase"], "paused");
    let sent_at_pause = p["emails"]["sent"].as_i64().unwrap();
    assert!(sent_at_pause < 6, "{p}");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let p = app.campaign(id).await;
    // At most a message already claimed before the pause goes out.
    assert!(p["emails"]["sent"].as_i64().unwrap() <= sent_at_pause + 1, "{p}");

    assert_eq!(json(pause("resume").await.unwrap()).await["state"], "running");
    app.wait_campaign(id, WAIT, |p| {
        p["emails"]["sent"].as_i64().unwrap() > sent_at_pause + 1
    })
    .await;
    assert_eq!(json(pause("cancel").await.unwrap()).await["state"], "cancelled");
    let p = app.campaign(id).await;
    assert_eq!(p["phase"], "cancelled");
    let e = &p["emails"];
    assert_eq!(
        e["sent"].as_i64().unwrap() + e["cancelled"].as_i64().unwrap() + e["pending"].as_i64().unwrap(),
        6
    );
    // A cancelled campaign cannot be resumed.
    let resp = pause("resume").await.unwrap();
    assert_eq!(resp.status(), 409);
    assert_eq!(error_code(resp).await, "invalid_transition");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_needs_its_token_and_gives_no_hints() {
    let app = spawn_app(Backend::Postgres).await;
    let addr = app.admin_addr.unwrap();
    for (path, token) in [
        ("/admin/v1/campaigns", None),
        ("/admin/v1/campaigns", Some("wrong")),
        (
            "/admin/v1/campaigns",
            Some("YWRtaW4tdG9rZW4tZm9yLXRlc3RzLW9ubHktMDEyMzU"),
        ),
        ("/admin/v1/no-such-thing", None),
    ] {
        let mut req = app.client.get(format!("http://{addr}{path}"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 401, "{path} {token:?}");
        assert_eq!(resp.headers()["www-authenticate"], "Bearer");
        assert_eq!(error_code(resp).await, "unauthorized");
    }
    // Not on the public listener at all, even with the token.
    let resp = app
        .client
        .get(app.url("/admin/v1/campaigns"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    // Bad input gets a clear 400.
    for (body, code) in [
        (
            json!({"scope": "everyone", "revoke_sessions": true, "notify": true, "reason": "x"}),
            "invalid_scope",
        ),
        (
            json!({"scope": {"emails": []}, "revoke_sessions": true, "notify": true, "reason": "x"}),
            "invalid_scope",
        ),
        (
            json!({"scope": {"emails": ["nope"]}, "revoke_sessions": true, "notify": true, "reason": "x"}),
            "invalid_scope",
        ),
        (
            json!({"scope": "all", "revoke_sessions": true, "notify": true, "reason": " "}),
            "invalid_reason",
        ),
        (
            json!({"scope": "all", "notify": true, "reason": "x"}),
            "invalid_request",
        ),
    ] {
        let resp = app
            .admin(Method::POST, "/admin/v1/campaigns")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{body}");
        assert_eq!(error_code(resp).await, code, "{body}");
    }
    let resp = app
        .admin(Method::GET, "/admin/v1/campaigns/12345")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(error_code(resp).await, "campaign_not_found");
    let resp = app.admin(Method::GET, "/admin/v1/outbox").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(json(resp).await["dead"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_store_says_campaigns_need_postgres() {
    let app = spawn_app(Backend::Memory).await;
    let resp = app
        .admin(Method::POST, "/admin/v1/campaigns")
        .json(&json!({"scope": "all", "revoke_sessions": true, "notify": true, "reason": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 501);
    assert_eq!(error_code(resp).await, "campaigns_need_postgres");
}
