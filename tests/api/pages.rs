//! The pages behind the emailed links (/forgot, /reset): each state renders with the security
//! headers, they run the same service paths as the JSON API, GET never consumes a token, form
//! posts from another origin are refused, and browsers get HTML when limited.

use std::time::Duration;

use crate::cli::{next_line_containing, resetgate, GatewayChild};
use crate::helpers::{spawn_app, spawn_app_with, Backend, TestApp, BROWSER_ACCEPT, ORIGIN, PASSWORD};

crate::both_backends!(
    every_page_sends_the_security_headers,
    forgot_answers_the_same_for_known_and_unknown_addresses,
    forgot_waits_out_the_same_timing_floor_as_the_api,
    an_invalid_address_re_renders_the_form_with_the_reason,
    a_scanner_fetching_the_link_leaves_it_usable,
    a_refused_password_keeps_the_token_and_says_why,
    the_sign_out_box_decides_whether_old_sessions_survive,
    forms_posted_from_another_origin_are_refused,
    a_limited_browser_gets_a_page_that_retries_by_itself,
);

const NEW_PASSWORD: &str = "a brand new passphrase of mine";

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("accept", BROWSER_ACCEPT)
        .send()
        .await
        .expect("request")
}

/// A form post as a browser on our own site sends it.
async fn post_form(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("accept", BROWSER_ACCEPT)
        .header("origin", ORIGIN)
        .form(fields)
        .send()
        .await
        .expect("request")
}

fn assert_page_headers(resp: &reqwest::Response) {
    let h = resp.headers();
    assert_eq!(h["content-type"], "text/html; charset=utf-8", "{h:?}");
    assert_eq!(
        h["content-security-policy"],
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["x-content-type-options"], "nosniff");
}

/// The status and the body of a page, after checking its headers.
async fn page(resp: reqwest::Response) -> (u16, String) {
    assert_page_headers(&resp);
    let status = resp.status().as_u16();
    let body = resp.text().await.expect("body");
    assert!(body.starts_with("<!doctype html>\n<html lang=\"en\">"), "{body}");
    assert!(body.len() < 30 * 1024);
    (status, body)
}

/// Asks for a link through the page and returns the token from the mail.
async fn token_via_page(app: &TestApp, email: &str) -> String {
    let before = app.mails().iter().filter(|m| m.to == email).count();
    let (status, _) = page(post_form(app, "/forgot", &[("email", email)]).await).await;
    assert_eq!(status, 200);
    let mails = app.wait_for_mails(email, before + 1).await;
    let mail = mails.last().expect("mail");
    assert!(
        mail.body.contains("https://reset.example.test/reset?token="),
        "{}",
        mail.body
    );
    mail.token()
}

fn hidden_token(body: &str) -> &str {
    let at = body
        .find("<input type=\"hidden\" name=\"token\" value=\"")
        .expect("the form carries the token")
        + "<input type=\"hidden\" name=\"token\" value=\"".len();
    &body[at..at + 43]
}

async fn every_page_sends_the_security_headers(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_account("alice@example.com", Some(PASSWORD), false)
        .await;

    let (status, body) = page(get(&app, "/forgot").await).await;
    assert_eq!(status, 200);
    assert!(body.contains("autocomplete=\"email\""), "{body}");
    assert!(body.contains("<label for=\"email\">"), "{body}");
    assert!(!body.contains("<script"), "{body}");

    let token = token_via_page(&app, "alice@example.com").await;
    let (status, body) = page(get(&app, &format!("/reset?token={token}")).await).await;
    assert_eq!(status, 200);
    assert!(body.contains("autocomplete=\"new-password\""), "{body}");
    assert!(body.contains("value=\"alice@example.com\" readonly"), "{body}");
    assert!(
        body.contains("name=\"sign_out_everywhere\" type=\"checkbox\" value=\"yes\" checked"),
        "{body}"
    );
    assert!(body.contains("at least 15 characters"), "{body}");
    assert_eq!(hidden_token(&body), token);

    for dead in ["/reset", "/reset?token=", "/reset?token=not-a-token"] {
        let (status, body) = page(get(&app, dead).await).await;
        assert_eq!(status, 200, "{dead}");
        assert!(body.contains("expired or was already used"), "{dead}: {body}");
        assert!(body.contains("href=\"forgot\""), "{dead}: {body}");
        assert!(!body.contains("alice@example.com"), "{dead}: {body}");
    }

    let css = get(&app, "/assets/style.css").await;
    assert_eq!(css.status(), 200);
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert_eq!(
        css.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(css.headers()["x-content-type-options"], "nosniff");
    assert!(css.text().await.unwrap().contains("max-width"));
}

async fn forgot_answers_the_same_for_known_and_unknown_addresses(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_account("alice@example.com", Some(PASSWORD), false)
        .await;
    let (known_status, known) =
        page(post_form(&app, "/forgot", &[("email", "alice@example.com")]).await).await;
    let (unknown_status, unknown) =
        page(post_form(&app, "/forgot", &[("email", "nobody@example.com")]).await).await;
    assert_eq!(known_status, 200);
    assert_eq!(unknown_status, known_status);
    assert_eq!(unknown, known);
    assert!(known.contains("If an account exists for this address"), "{known}");
    // The same service path as the JSON API: the known address got its mail, and the metrics
    // count both requests as the API's would.
    let mails = app.wait_for_mails("alice@example.com", 1).await;
    assert!(mails[0].body.contains("/reset?token="), "{}", mails[0].body);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"resetgate_reset_requests_total{outcome="issued"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"resetgate_reset_requests_total{outcome="unknown_account"} 1"#),
        "{metrics}"
    );
}

async fn forgot_waits_out_the_same_timing_floor_as_the_api(backend: Backend) {
    let app = spawn_app_with(backend, &[("RESETGATE_RESET_FLOOR_MS", "300")]).await;
    app.create_account("alice@example.com", Some(PASSWORD), false)
        .await;
    for email in ["alice@example.com", "nobody@example.com"] {
        let started = std::time::Instant::now();
        let (status, _) = page(post_form(&app, "/forgot", &[("email", email)]).await).await;
        let elapsed = started.elapsed();
        assert_eq!(status, 200);
        assert!(
            elapsed >= Duration::from_millis(300),
            "{email} answered in {elapsed:?}"
        );
    }
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("resetgate_reset_timing_floor_exceeded_total 0"),
        "{metrics}"
    );
}

async fn an_invalid_address_re_renders_the_form_with_the_reason(backend: Backend) {
    let app = spawn_app(backend).await;
    let (status, body) = page(post_form(&app, "/forgot", &[("email", "not an <address>")]).await).await;
    assert_eq!(status, 400);
    assert!(body.contains("role=\"alert\""), "{body}");
    assert!(body.contains("aria-describedby=\"email-error\""), "{body}");
    assert!(body.contains("autofocus"), "{body}");
    // What the person typed comes back, escaped.
    assert!(body.contains("value=\"not an &#60;address&#62;\""), "{body}");
    assert!(app.mails().is_empty());
}

async fn a_scanner_fetching_the_link_leaves_it_usable(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_account("alice@example.com", Some(PASSWORD), false)
        .await;
    let token = token_via_page(&app, "alice@example.com").await;
    let link = format!("/reset?token={token}");
    // A mail scanner (no browser Accept at all), then the person.
    let scanner = app.client.get(app.url(&link)).send().await.unwrap();
    assert_eq!(scanner.status(), 200);
    let (status, body) = page(get(&app, &link).await).await;
    assert_eq!(status, 200);
    assert_eq!(hidden_token(&body), token);

    let (status, done) = page(
        post_form(
            &app,
            "/reset",
            &[
                ("token", &token),
                ("username", "alice@example.com"),
                ("new_password", NEW_PASSWORD),
                ("sign_out_everywhere", "yes"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    assert!(done.contains("Your password has been changed"), "{done}");
    assert!(done.contains("All devices were signed out"), "{done}");
    assert_eq!(app.login("alice@example.com", NEW_PASSWORD).await.status(), 200);
    assert_eq!(app.login("alice@example.com", PASSWORD).await.status(), 401);
    // The "password changed" notice still goes out.
    let mails = app.wait_for_mails("alice@example.com", 2).await;
    assert_eq!(mails[1].subject, "Your password was changed");

    // Used now: the link and the form both say so.
    let (status, body) = page(get(&app, &link).await).await;
    assert_eq!(status, 200);
    assert!(body.contains("expired or was already used"), "{body}");
    let (status, body) = page(
        post_form(
            &app,
            "/reset",
            &[("token", &token), ("new_password", NEW_PASSWORD)],
        )
        .await,
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("expired or was already used"), "{body}");
}

async fn a_refused_password_keeps_the_token_and_says_why(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_account("alice@example.com", Some(PASSWORD), false)
        .await;
    let token = token_via_page(&app, "alice@example.com").await;
    let (status, body) = page(
        post_form(
            &app,
            "/reset",
            &[
                ("token", &token),
                ("new_password", "PasswordPassword"),
                ("sign_out_everywhere", "yes"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    assert!(body.contains("role=\"alert\""), "{body}");
    assert!(body.contains("too common"), "{body}");
    assert!(
        body.contains("aria-describedby=\"password-error policy\""),
        "{body}"
    );
    assert!(body.contains("autofocus"), "{body}");
    assert!(body.contains("value=\"alice@example.com\" readonly"), "{body}");
    assert!(
        !body.contains("PasswordPassword"),
        "the refused password is never echoed"
    );
    assert_eq!(hidden_token(&body), token);

    let (status, _) = page(
        post_form(
            &app,
            "/reset",
            &[("token", &token), ("new_password", NEW_PASSWORD)],
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(app.login("alice@example.com", NEW_PASSWORD).await.status(), 200);
}

async fn the_sign_out_box_decides_whether_old_sessions_survive(backend: Backend) {
    let app = spawn_app(backend).await;
    for (email, checked) in [("alice@example.com", true), ("bob@example.com", false)] {
        app.create_account(email, Some(PASSWORD), false).await;
        let session = app.session_token(email, PASSWORD).await;
        let token = token_via_page(&app, email).await;
        let mut fields = vec![("token", token.as_str()), ("new_password", NEW_PASSWORD)];
        if checked {
            fields.push(("sign_out_everywhere", "yes"));
        }
        let (status, body) = page(post_form(&app, "/reset", &fields).await).await;
        assert_eq!(status, 200, "{body}");
        if checked {
            assert!(body.contains("All devices were signed out"), "{body}");
            assert_eq!(app.session_status(&session).await, 401, "{email}");
        } else {
            assert!(body.contains("stay signed in"), "{body}");
            assert_eq!(app.session_status(&session).await, 200, "{email}");
        }
    }
}

async fn forms_posted_from_another_origin_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_account("alice@example.com", Some(PASSWORD), false)
        .await;
    let token = token_via_page(&app, "alice@example.com").await;
    let send = |path: &str, origin: Option<(&'static str, &'static str)>, fields: Vec<(&str, String)>| {
        let mut req = app
            .client
            .post(app.url(path))
            .header("accept", BROWSER_ACCEPT)
            .form(&fields);
        if let Some((name, value)) = origin {
            req = req.header(name, value);
        }
        req.send()
    };
    let reset_fields = || {
        vec![
            ("token", token.clone()),
            ("new_password", NEW_PASSWORD.to_owned()),
        ]
    };
    for origin in [
        Some(("origin", "https://evil.example")),
        Some(("origin", "null")),
        Some(("referer", "https://evil.example/reset")),
        None,
    ] {
        let (status, body) = page(
            send("/forgot", origin, vec![("email", "alice@example.com".into())])
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 403, "{origin:?}");
        assert!(body.contains("not sent from this site"), "{body}");
        let (status, _) = page(send("/reset", origin, reset_fields()).await.unwrap()).await;
        assert_eq!(status, 403, "{origin:?}");
    }
    // Nothing happened: one mail (the one asked for above), and the token still works. A Referer
    // from our own site is enough when a browser leaves Origin out.
    assert_eq!(app.mails().len(), 1);
    let (status, _) = page(
        send(
            "/reset",
            Some(("referer", "https://reset.example.test/reset?token=x")),
            reset_fields(),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
}

async fn a_limited_browser_gets_a_page_that_retries_by_itself(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("RESETGATE_RATE_IP_BURST", "1"),
            ("RESETGATE_RATE_IP_PER_MIN", "1"),
        ],
    )
    .await;
    assert_eq!(get(&app, "/forgot").await.status(), 200);
    let limited = get(&app, "/forgot").await;
    let retry = limited.headers()["retry-after"].to_str().unwrap().to_owned();
    let (status, body) = page(limited).await;
    assert_eq!(status, 429);
    assert!(
        body.contains(&format!("<meta http-equiv=\"refresh\" content=\"{retry}\">")),
        "{body}"
    );
    assert!(body.contains("Too many attempts"), "{body}");
    // The JSON API is unchanged for API clients.
    let api = app
        .client
        .get(app.url("/forgot"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 429);
    assert_eq!(api.headers()["content-type"], "application/problem+json");
    let api = app
        .client
        .post(app.url("/v1/password-reset/request"))
        .header("accept", "*/*")
        .json(&serde_json::json!({ "email": "alice@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 429);
    assert_eq!(api.headers()["content-type"], "application/problem+json");
}

/// The binary's access log for GET /reset names the route, never the token in the query.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_log_never_holds_the_token() {
    let mut cmd = resetgate();
    cmd.args(["demo", "--seed-email", "demo@example.com"])
        .env("RUST_LOG", "debug")
        .env("RESETGATE_RESET_FLOOR_MS", "10")
        .env("RESETGATE_MAIL_POLL_MS", "20");
    let mut gateway = GatewayChild::start(cmd).await;
    let stderr = gateway.collect_stderr();
    let base = gateway.base.clone();
    let client = reqwest::Client::new();
    let resp = client
        .post(format!("{base}/v1/password-reset/request"))
        .json(&serde_json::json!({ "email": "demo@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let link = next_line_containing(&mut gateway.stdout, "?token=").await;
    let token = link.split("?token=").nth(1).expect("token").trim().to_owned();
    let resp = client
        .get(format!("{base}/reset?token={token}"))
        .header("accept", BROWSER_ACCEPT)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("Choose a new password"));

    gateway.stop(Duration::from_secs(10)).await;
    let logs = String::from_utf8_lossy(&stderr.await.unwrap()).into_owned();
    assert!(
        logs.lines()
            .any(|l| l.contains("route=\"reset_page\"") && l.contains("served")),
        "no access log line for GET /reset:\n{logs}"
    );
    assert!(!logs.contains(&token), "the token reached the logs:\n{logs}");
}
