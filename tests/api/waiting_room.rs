//! The waiting room over HTTP (issue #15), on both stores: a shed answer gives a place in line
//! and a ticket; coming back with it keeps the place (a newcomer is behind it); a forged or
//! foreign ticket is just no ticket; a browser gets "You're in line" with its ticket in a cookie
//! and a refresh back to the form; the line shows in /metrics.

use std::time::Duration;

use chrono::Duration as Span;
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, Backend, TestApp, BROWSER_ACCEPT, ORIGIN, PASSWORD};

crate::both_backends!(
    a_shed_answer_gives_a_place_and_a_ticket_that_keeps_it,
    a_browser_in_line_sees_its_place_and_comes_back_to_the_form,
);

/// One worker on costly hashes and a queue budget of a millisecond: while one login hashes,
/// every other is shed at once. No holds: these tests are about the shed answer, and whether a
/// hold would cover one of these hashes depends on the machine (the holds themselves are tested
/// against the measured hash time in `hashing::pool` and `waiting::room`, and at scale by the
/// population simulation).
async fn one_slow_worker(backend: Backend) -> TestApp {
    let app = spawn_app_with(
        backend,
        &[
            ("RESETGATE_HASH_WORKERS", "1"),
            ("RESETGATE_HASH_QUEUE_BUDGET_MS", "1"),
            ("RESETGATE_HASH_DEADLINE_MS", "30000"),
            ("RESETGATE_ARGON2_M_KIB", "65536"),
            ("RESETGATE_ARGON2_T", "24"),
            ("RESETGATE_WAIT_HOLD_MS", "0"),
        ],
    )
    .await;
    for who in ["alice", "bob", "carol"] {
        app.create_account(&format!("{who}@example.com"), Some(PASSWORD), false)
            .await;
    }
    app
}

/// Starts a login that occupies the one worker, and returns once it does.
async fn occupy(app: &TestApp) -> tokio::task::JoinHandle<u16> {
    let (client, url) = (app.client.clone(), app.url("/v1/login"));
    let busy = tokio::spawn(async move {
        let body = json!({ "email": "alice@example.com", "password": PASSWORD });
        client
            .post(url)
            .json(&body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !app.metrics().await.contains("resetgate_hash_in_flight 1") {
        assert!(std::time::Instant::now() < deadline, "the worker never got busy");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    busy
}

async fn login_with(app: &TestApp, email: &str, ticket: Option<&str>) -> (u16, Option<String>, Value) {
    let mut req = app
        .client
        .post(app.url("/v1/login"))
        .json(&json!({ "email": email, "password": PASSWORD }));
    if let Some(t) = ticket {
        req = req.header("resetgate-ticket", t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let header = resp
        .headers()
        .get("resetgate-ticket")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, header, resp.json().await.unwrap_or_default())
}

async fn a_shed_answer_gives_a_place_and_a_ticket_that_keeps_it(backend: Backend) {
    let app = one_slow_worker(backend).await;
    let busy = occupy(&app).await;

    let (status, header, bob) = login_with(&app, "bob@example.com", None).await;
    assert_eq!(status, 503, "{bob}");
    assert_eq!(bob["code"], "hashing_overloaded");
    assert_eq!(bob["ahead"], 0, "bob is first in line: {bob}");
    let ticket = bob["ticket"].as_str().unwrap().to_owned();
    assert_eq!(
        header.as_deref(),
        Some(ticket.as_str()),
        "the ticket is in the header too"
    );

    // Carol comes a second later: behind bob.
    app.clock.advance(Span::seconds(1));
    let (status, _, carol) = login_with(&app, "carol@example.com", None).await;
    assert_eq!(status, 503);
    assert_eq!(carol["ahead"], 1, "{carol}");

    // Bob comes back with his ticket: still first, and not counted twice.
    app.clock.advance(Span::seconds(1));
    let (_, _, again) = login_with(&app, "bob@example.com", Some(&ticket)).await;
    assert_eq!(again["ahead"], 0, "{again}");
    assert!(app
        .metrics()
        .await
        .contains(r#"resetgate_waiting_clients{lane="login"} 2"#));

    // Bob's ticket for carol's account, or a forged one, is no ticket: a newcomer, never an error.
    let (status, _, traded) = login_with(&app, "carol@example.com", Some(&ticket)).await;
    assert_eq!(status, 503);
    assert_eq!(traded["ahead"], 2, "a traded ticket is a new arrival: {traded}");
    let forged = format!("{}A", &ticket[..ticket.len() - 1]);
    let (status, _, forged) = login_with(&app, "carol@example.com", Some(&forged)).await;
    assert_eq!(status, 503);
    assert_eq!(forged["ahead"], 3, "{forged}");
    let (status, _, junk) = login_with(&app, "carol@example.com", Some("not a ticket at all")).await;
    assert_eq!(status, 503, "{junk}");

    // Once the worker is free, bob gets his turn and leaves the line.
    assert_eq!(busy.await.unwrap(), 200);
    let (status, _, body) = login_with(&app, "bob@example.com", Some(&ticket)).await;
    assert_eq!(status, 200, "{body}");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"resetgate_waiting_clients{lane="login"} 4"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"resetgate_waiting_ticket_age_seconds_count{lane="login"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"resetgate_waiting_retry_after_seconds_count{lane="login"} 6"#),
        "{metrics}"
    );
}

async fn a_browser_in_line_sees_its_place_and_comes_back_to_the_form(backend: Backend) {
    let app = one_slow_worker(backend).await;
    let token = app.reset_token("carol@example.com").await;
    let busy = occupy(&app).await;
    let post = |path: &'static str, fields: Vec<(&'static str, String)>, cookie: Option<String>| {
        let mut req = app
            .client
            .post(app.url(path))
            .header("accept", BROWSER_ACCEPT)
            .header("origin", ORIGIN)
            .form(&fields);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        req.send()
    };
    let resp = post(
        "/sign-in",
        vec![("email", "bob@example.com".into()), ("password", PASSWORD.into())],
        None,
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 503);
    let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    let cookies: Vec<String> = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let set = cookies
        .iter()
        .find(|c| c.starts_with("rg_ticket_login="))
        .unwrap_or_else(|| panic!("{cookies:?}"))
        .clone();
    let remembered = cookies
        .iter()
        .find(|c| c.starts_with("rg_sign_in_email="))
        .unwrap_or_else(|| panic!("the address is kept for the form: {cookies:?}"));
    assert!(remembered.contains("HttpOnly") && remembered.contains("SameSite=Strict"));
    assert!(!remembered.contains("bob"), "sealed, not in clear: {remembered}");
    // What the browser sends back when the page refreshes to the form.
    let jar: String = cookies
        .iter()
        .map(|c| c.split(';').next().unwrap())
        .collect::<Vec<_>>()
        .join("; ");
    for attr in [
        "rg_ticket_login=",
        "HttpOnly",
        "SameSite=Strict",
        "Secure",
        "Path=/",
    ] {
        assert!(set.contains(attr), "{set}");
    }
    let page = resp.text().await.unwrap();
    assert!(page.contains("<h1>You&#39;re in line</h1>"), "{page}");
    assert!(page.contains("Nobody is ahead of you"), "{page}");
    assert!(
        page.contains(&format!("content=\"{retry}; url=sign-in\"")),
        "the page comes back to the form by itself: {page}"
    );
    assert!(page.contains("type your password again"), "{page}");
    assert!(!page.contains(PASSWORD), "the password is not kept in the page");
    // The form it refreshes to holds the address; a form without the cookie does not.
    let form = |cookie: Option<String>| {
        let mut req = app
            .client
            .get(app.url("/sign-in"))
            .header("accept", BROWSER_ACCEPT);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        async move { req.send().await.unwrap().text().await.unwrap() }
    };
    let refilled = form(Some(jar.clone())).await;
    assert!(refilled.contains("value=\"bob@example.com\""), "{refilled}");
    assert!(!refilled.contains(PASSWORD));
    assert!(!form(None).await.contains("bob@example.com"));
    assert!(
        !form(Some("rg_sign_in_email=tampered".into()))
            .await
            .contains("bob"),
        "a cookie that does not open is no address"
    );

    // The cookie is the ticket: a newcomer on the reset form is in its own lane's line.
    let resp = post(
        "/reset",
        vec![
            ("token", token.clone()),
            ("new_password", "a new passphrase, long enough".into()),
        ],
        None,
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 503);
    assert!(resp.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .starts_with("rg_ticket_confirm="));
    let page = resp.text().await.unwrap();
    assert!(
        page.contains(&format!("; url=reset?token={token}\"")),
        "back to the form with the token only: {page}"
    );
    assert!(page.contains("asked for your new password again"), "{page}");
    assert!(!page.contains("a new passphrase"), "{page}");

    assert_eq!(busy.await.unwrap(), 200);
    // Its turn: the sign-in goes through with the ticket, and the address is forgotten.
    let resp = post(
        "/sign-in",
        vec![("email", "bob@example.com".into()), ("password", PASSWORD.into())],
        Some(jar),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 303, "signed in");
    let cleared: Vec<&str> = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(
        cleared
            .iter()
            .any(|c| c.starts_with("rg_sign_in_email=;") && c.contains("Max-Age=0")),
        "{cleared:?}"
    );
    // The token was not used up by the shed attempt.
    let form = app
        .get(&format!("/reset?token={token}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(form.contains("id=\"new_password\""), "{form}");
}
