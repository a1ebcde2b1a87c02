//! The account pages (issue #14): sign in with a password and, for an enrolled account, a code;
//! turn on two-step verification from the page (QR code, the key in groups, confirm, recovery
//! codes shown once); the session in an HttpOnly, SameSite=Strict cookie; forms from other
//! origins refused.

use chrono::Duration;
use resetgate::mfa::totp::TotpSecret;
use serde_json::json;

use crate::helpers::{json, spawn_app, Backend, TestApp, BROWSER_ACCEPT, ORIGIN, PASSWORD};

crate::both_backends!(
    a_browser_turns_on_two_step_verification_and_then_needs_the_code,
    the_pages_refuse_strangers_and_wrong_passwords,
);

const EMAIL: &str = "page-user@example.com";

pub(crate) async fn post(
    app: &TestApp,
    path: &str,
    fields: &[(&str, &str)],
    cookie: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url(path))
        .header("accept", BROWSER_ACCEPT)
        .header("origin", ORIGIN)
        .form(fields);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.send().await.expect("request")
}

pub(crate) async fn get(app: &TestApp, path: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut req = app.client.get(app.url(path)).header("accept", BROWSER_ACCEPT);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.send().await.expect("request")
}

/// The `name=value` part of the session cookie a 303 set, after checking its attributes.
pub(crate) fn session_cookie(resp: &reqwest::Response) -> String {
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "https://reset.example.test/two-step");
    let set = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attr in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(set.contains(attr), "{set}");
    }
    set.split(';').next().unwrap().to_owned()
}

/// Signs in on the page; returns the session cookie (checked) it set.
pub(crate) async fn sign_in_cookie(app: &TestApp, email: &str, password: &str) -> String {
    let signed_in = post(app, "/sign-in", &[("email", email), ("password", password)], None).await;
    session_cookie(&signed_in)
}

/// Reads the key from the enrolment page, as a person types it into an app.
pub(crate) fn secret_on(page: &str) -> TotpSecret {
    let start = page.find("id=\"secret\">").expect("the key is on the page") + "id=\"secret\">".len();
    let typed: String = page[start..].split('<').next().unwrap().replace(' ', "");
    let bytes = totp_rs::Secret::try_from_base32(typed).unwrap();
    TotpSecret::from_bytes(bytes.as_bytes()).unwrap()
}

async fn a_browser_turns_on_two_step_verification_and_then_needs_the_code(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_account(EMAIL, Some(PASSWORD), false).await;
    let form = get(&app, "/sign-in", None).await;
    assert_eq!(form.status(), 200);
    let form = form.text().await.unwrap();
    assert!(form.contains("autocomplete=\"current-password\""), "{form}");

    let cookie = sign_in_cookie(&app, EMAIL, PASSWORD).await;
    let enrol = get(&app, "/two-step", Some(&cookie)).await;
    assert_eq!(enrol.status(), 200);
    assert_eq!(
        enrol.headers()["content-security-policy"],
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    );
    let page = enrol.text().await.unwrap();
    assert!(
        page.contains("<svg") && !page.contains("<?xml"),
        "the QR code is inline SVG"
    );
    let secret = secret_on(&page);

    // A wrong first code shows the same key again.
    let wrong = post(&app, "/two-step", &[("code", "000000")], Some(&cookie)).await;
    assert_eq!(wrong.status(), 422);
    let wrong = wrong.text().await.unwrap();
    assert!(wrong.contains("role=\"alert\""), "{wrong}");
    assert_eq!(secret_on(&wrong), secret);

    let on = post(
        &app,
        "/two-step",
        &[("code", &app.code_now(&secret))],
        Some(&cookie),
    )
    .await;
    assert_eq!(on.status(), 200);
    let on = on.text().await.unwrap();
    assert_eq!(
        on.matches("<li><code>").count(),
        10,
        "ten recovery codes, shown once: {on}"
    );
    let again = get(&app, "/two-step", Some(&cookie)).await.text().await.unwrap();
    assert!(
        again.contains("Two-step verification is on") && !again.contains("<code>"),
        "{again}"
    );

    // Now the password alone is not enough, in the page as in the API.
    app.clock.advance(Duration::seconds(30));
    let step = post(
        &app,
        "/sign-in",
        &[("email", EMAIL), ("password", PASSWORD)],
        None,
    )
    .await;
    assert_eq!(step.status(), 200);
    assert!(step.headers().get("set-cookie").is_none());
    let step = step.text().await.unwrap();
    let start = step.find("name=\"challenge\" value=\"").unwrap() + "name=\"challenge\" value=\"".len();
    let challenge = step[start..start + 43].to_owned();
    let refused = post(
        &app,
        "/sign-in-code",
        &[("challenge", &challenge), ("code", "000000")],
        None,
    )
    .await;
    assert_eq!(refused.status(), 401);
    let done = post(
        &app,
        "/sign-in-code",
        &[("challenge", &challenge), ("code", &app.code_now(&secret))],
        None,
    )
    .await;
    let cookie = session_cookie(&done);
    let token = cookie.split_once('=').unwrap().1;
    let info = app
        .client
        .get(app.url("/v1/session"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(json(info).await["amr"], json!(["pwd", "otp"]));
}

async fn the_pages_refuse_strangers_and_wrong_passwords(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_account(EMAIL, Some(PASSWORD), false).await;
    let wrong = post(
        &app,
        "/sign-in",
        &[("email", EMAIL), ("password", "not the password")],
        None,
    )
    .await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get("set-cookie").is_none());
    assert!(wrong
        .text()
        .await
        .unwrap()
        .contains("The email address or the password is wrong"));
    // From another site: refused before anything is checked.
    let forged = app
        .client
        .post(app.url("/sign-in"))
        .header("origin", "https://evil.example")
        .form(&[("email", EMAIL), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert!(forged.headers().get("set-cookie").is_none());
    // Without a session the two-step page sends the browser to sign in.
    let anonymous = get(&app, "/two-step", None).await;
    assert_eq!(anonymous.status(), 303);
    assert_eq!(
        anonymous.headers()["location"],
        "https://reset.example.test/sign-in"
    );
    let junk = get(&app, "/two-step", Some("rg_session=nonsense")).await;
    assert_eq!(junk.status(), 303);
    // The done page of a reset offers it.
    let token = app.reset_token(EMAIL).await;
    let done = post(
        &app,
        "/reset",
        &[
            ("token", &token),
            ("new_password", "a new passphrase for the page"),
            ("sign_out_everywhere", "yes"),
        ],
        None,
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(done.contains("href=\"two-step\""), "{done}");
}
