//! Sessions people can end (issue #16, point 8): POST /v1/logout and the pages' sign-out end a
//! session on the server; an unused session ends after the idle timeout, a busy one at its
//! absolute lifetime; an account holds at most so many sessions, the oldest ended first, and the
//! cap holds when logins race.

use chrono::Duration;
use serde_json::Value;

use crate::account_pages::{get, post, sign_in_cookie};
use crate::helpers::{spawn_app, spawn_app_with, Backend, TestApp, PASSWORD};

crate::both_backends!(
    logout_ends_the_session_on_the_server_and_only_that_one,
    logout_answers_the_same_for_live_ended_and_unknown_sessions,
    an_unused_session_ends_after_the_idle_timeout_and_each_use_extends_it,
    a_busy_session_still_ends_at_its_absolute_lifetime,
    a_login_beyond_the_cap_ends_the_oldest_session,
    racing_logins_keep_the_cap,
    the_sign_out_button_ends_the_page_session,
);

const EMAIL: &str = "sessions@example.com";

async fn logout(app: &TestApp, token: Option<&str>) -> reqwest::Response {
    let mut req = app.client.post(app.url("/v1/logout"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.expect("request")
}

async fn session_body(app: &TestApp, token: &str) -> Value {
    let resp = app
        .client
        .get(app.url("/v1/session"))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);
    resp.json().await.expect("json")
}

async fn logout_ends_the_session_on_the_server_and_only_that_one(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_account(EMAIL, Some(PASSWORD), false).await;
    let phone = app.session_token(EMAIL, PASSWORD).await;
    let laptop = app.session_token(EMAIL, PASSWORD).await;
    let resp = logout(&app, Some(&phone)).await;
    assert_eq!(resp.status(), 204);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert!(resp.bytes().await.unwrap().is_empty());
    assert_eq!(
        app.session_status(&phone).await,
        401,
        "the token is dead on the server"
    );
    assert_eq!(
        app.session_status(&laptop).await,
        200,
        "the other device stays signed in"
    );
}

async fn logout_answers_the_same_for_live_ended_and_unknown_sessions(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_account(EMAIL, Some(PASSWORD), false).await;
    let token = app.session_token(EMAIL, PASSWORD).await;
    assert_eq!(logout(&app, Some(&token)).await.status(), 204);
    assert_eq!(
        logout(&app, Some(&token)).await.status(),
        204,
        "again: still signed out"
    );
    let never = resetgate::reset::token::BearerToken::generate();
    assert_eq!(logout(&app, Some(never.expose())).await.status(), 204);
    // No credentials at all, or a malformed one, is a client error, as on every session route.
    assert_eq!(logout(&app, None).await.status(), 401);
    assert_eq!(logout(&app, Some("not-a-token")).await.status(), 401);
}

async fn an_unused_session_ends_after_the_idle_timeout_and_each_use_extends_it(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("RESETGATE_SESSION_IDLE_SECS", "600"),
            ("RESETGATE_SESSION_TTL_SECS", "7200"),
        ],
    )
    .await;
    app.create_account(EMAIL, Some(PASSWORD), false).await;
    let token = app.session_token(EMAIL, PASSWORD).await;
    // Used every 500 s: well past one idle timeout in all, and still live.
    for _ in 0..3 {
        app.clock.advance(Duration::seconds(500));
        let body = session_body(&app, &token).await;
        let idle = chrono::DateTime::parse_from_rfc3339(body["idle_expires_at"].as_str().unwrap()).unwrap();
        assert_eq!(
            idle.with_timezone(&chrono::Utc).timestamp(),
            (resetgate::clock::Clock::now(&*app.clock) + Duration::seconds(600)).timestamp(),
            "each use moves the idle end to now + the timeout: {body}"
        );
    }
    app.clock.advance(Duration::seconds(599));
    assert_eq!(
        app.session_status(&token).await,
        200,
        "a second before the idle end"
    );
    app.clock.advance(Duration::seconds(601));
    assert_eq!(
        app.session_status(&token).await,
        401,
        "unused for longer than the timeout"
    );
}

async fn a_busy_session_still_ends_at_its_absolute_lifetime(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("RESETGATE_SESSION_IDLE_SECS", "600"),
            ("RESETGATE_SESSION_TTL_SECS", "1800"),
        ],
    )
    .await;
    app.create_account(EMAIL, Some(PASSWORD), false).await;
    let token = app.session_token(EMAIL, PASSWORD).await;
    for _ in 0..5 {
        app.clock.advance(Duration::seconds(350));
        assert_eq!(app.session_status(&token).await, 200);
    }
    // 1750 s in: the idle end is cut to the absolute one, 50 s away, not 600.
    let body = session_body(&app, &token).await;
    assert_eq!(body["idle_expires_at"], body["expires_at"], "{body}");
    app.clock.advance(Duration::seconds(51));
    assert_eq!(
        app.session_status(&token).await,
        401,
        "past the lifetime, however busy"
    );
}

async fn a_login_beyond_the_cap_ends_the_oldest_session(backend: Backend) {
    let app = spawn_app_with(backend, &[("RESETGATE_SESSIONS_PER_ACCOUNT", "3")]).await;
    app.create_account(EMAIL, Some(PASSWORD), false).await;
    app.create_account("neighbour@example.com", Some(PASSWORD), false)
        .await;
    let neighbour = app.session_token("neighbour@example.com", PASSWORD).await;
    let mut tokens = Vec::new();
    for _ in 0..5 {
        tokens.push(app.session_token(EMAIL, PASSWORD).await);
        app.clock.advance(Duration::seconds(1));
    }
    let mut live = Vec::new();
    for t in &tokens {
        live.push(app.session_status(t).await == 200);
    }
    assert_eq!(live, [false, false, true, true, true], "the two oldest made room");
    assert_eq!(
        app.session_status(&neighbour).await,
        200,
        "another account's sessions are not touched"
    );
    // A signed-out session frees its place: the next login ends nobody.
    assert_eq!(logout(&app, Some(&tokens[2])).await.status(), 204);
    let newest = app.session_token(EMAIL, PASSWORD).await;
    for t in [&tokens[3], &tokens[4], &newest] {
        assert_eq!(app.session_status(t).await, 200);
    }
}

async fn racing_logins_keep_the_cap(backend: Backend) {
    let app = spawn_app_with(backend, &[("RESETGATE_SESSIONS_PER_ACCOUNT", "3")]).await;
    app.create_account(EMAIL, Some(PASSWORD), false).await;
    // All at once, so on PostgreSQL their transactions overlap (several connections).
    let mut logins = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (client, url) = (app.client.clone(), app.url("/v1/login"));
        logins.spawn(async move {
            let resp = client
                .post(url)
                .json(&serde_json::json!({"email": EMAIL, "password": PASSWORD}))
                .send()
                .await
                .expect("request");
            assert_eq!(resp.status(), 200);
            let body: Value = resp.json().await.expect("json");
            body["session_token"].as_str().expect("token").to_owned()
        });
    }
    let tokens = logins.join_all().await;
    let mut live = 0;
    for t in &tokens {
        if app.session_status(t).await == 200 {
            live += 1;
        }
    }
    assert_eq!(live, 3, "exactly the cap survives, whatever the interleaving");
    if let Some(_db) = &app.db {
        let rows: i64 = app
            .pg()
            .await
            .query_one("SELECT count(*) FROM sessions", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(
            rows, 3,
            "the ended sessions are gone from the table, not only refused"
        );
    }
}

async fn the_sign_out_button_ends_the_page_session(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_account(EMAIL, Some(PASSWORD), false).await;
    let cookie = sign_in_cookie(&app, EMAIL, PASSWORD).await;
    let page = get(&app, "/two-step", Some(&cookie)).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains(r#"<form method="post" action="sign-out""#),
        "the signed-in page offers sign-out: {html}"
    );

    // From another site: refused, and the session lives on.
    let forged = app
        .client
        .post(app.url("/sign-out"))
        .header("accept", crate::helpers::BROWSER_ACCEPT)
        .header("origin", "https://evil.example")
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert_eq!(get(&app, "/two-step", Some(&cookie)).await.status(), 200);

    let out = post(&app, "/sign-out", &[], Some(&cookie)).await;
    assert_eq!(out.status(), 200);
    let set = out.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set.starts_with("rg_session=; ") && set.contains("Max-Age=0"),
        "{set}"
    );
    let html = out.text().await.unwrap();
    assert!(
        html.contains(r#"role="status""#) && html.contains("You are signed out"),
        "{html}"
    );
    // The browser may keep the old cookie (a copy, a stale tab): the server has ended it.
    let again = get(&app, "/two-step", Some(&cookie)).await;
    assert_eq!(again.status(), 303, "back to sign-in");
    let token = cookie.split_once('=').unwrap().1;
    assert_eq!(app.session_status(token).await, 401);
}
