//! A campaign that requires two-step verification after its forced reset (issue #14, point 7):
//! the reset answer and the done page lead into enrolment, the account's sessions serve only
//! enrolment until a factor is on, and an account that already has one is not held.

use std::time::Duration;

use reqwest::Method;
use resetgate::mfa::totp::TotpSecret;
use serde_json::json;

use crate::account_pages::{get, post, secret_on, sign_in_cookie};
use crate::helpers::{error_code, json, spawn_app, Backend, TestApp, PASSWORD};
use crate::mfa::call;

const NEW_PASSWORD: &str = "a brand new passphrase, long enough";
const WAIT: Duration = Duration::from_secs(30);

/// Turns on a factor for the session's account over the API; returns its secret.
async fn enrol(app: &TestApp, session: &str) -> TotpSecret {
    let begun = call(app, Method::POST, "/v1/mfa/totp", session, None).await;
    assert_eq!(begun.status(), 201);
    let begun = json(begun).await;
    let typed = begun["secret"].as_str().unwrap().replace(' ', "");
    let bytes = totp_rs::Secret::try_from_base32(typed).unwrap();
    let secret = TotpSecret::from_bytes(bytes.as_bytes()).unwrap();
    let confirmed = call(
        app,
        Method::POST,
        "/v1/mfa/totp/confirm",
        session,
        Some(json!({ "code": app.code_now(&secret) })),
    )
    .await;
    assert_eq!(confirmed.status(), 200, "{}", json(confirmed).await);
    // The confirming code is spent: the next one comes a step later.
    app.clock.advance(chrono::Duration::seconds(30));
    secret
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_can_require_two_step_verification_after_its_reset() {
    let app = spawn_app(Backend::Postgres).await;
    let (ann, bob, cat) = ("ann@example.com", "bob@example.org", "cat@example.net");
    for e in [ann, bob, cat] {
        app.create_account(e, Some(PASSWORD), false).await;
    }
    // Bob already has a factor: the campaign has nothing more to ask of him.
    let bob_session = app.session_token(bob, PASSWORD).await;
    let bob_secret = enrol(&app, &bob_session).await;

    let id = app
        .start_campaign(&json!({
            "scope": { "emails": [ann, bob] }, "revoke_sessions": false, "notify": false,
            "require_two_step": true, "reason": "breach 2026-11: passwords alone were not enough"
        }))
        .await;
    let p = app.wait_campaign(id, WAIT, |p| p["phase"] == "completed").await;
    assert_eq!(p["require_two_step"], true, "{p}");
    assert_eq!(p["marked"], 2);

    // Ann resets through the API: the answer says what comes next.
    let token = app.reset_token(ann).await;
    let done = app.confirm(&token, NEW_PASSWORD, Some(false)).await;
    assert_eq!(done.status(), 200);
    let done = json(done).await;
    assert_eq!(done["two_step"], "required", "{done}");
    assert_eq!(done["signed_out_everywhere"], false);

    // Her new password opens a session, which says it serves enrolment only...
    let login = app.login(ann, NEW_PASSWORD).await;
    assert_eq!(login.status(), 200);
    let login = json(login).await;
    assert_eq!(login["two_step_required"], true, "{login}");
    let session = login["session_token"].as_str().unwrap().to_owned();
    // ...and the applications that check it are told why they must not accept it yet.
    let resp = call(&app, Method::GET, "/v1/session", &session, None).await;
    assert_eq!(resp.status(), 403);
    assert_eq!(error_code(resp).await, "two_step_setup_required");

    // Enrolment with that same session lifts the hold.
    enrol(&app, &session).await;
    assert_eq!(app.session_status(&session).await, 200);
    let again = app.login(ann, NEW_PASSWORD).await;
    assert_eq!(
        error_code(again).await,
        "mfa_required",
        "the factor is now asked for"
    );

    // Bob proves his factor in the reset and is not held.
    let token = app.reset_token(bob).await;
    let resp = app.confirm(&token, NEW_PASSWORD, Some(false)).await;
    assert_eq!(error_code(resp).await, "mfa_required");
    let body = json!({
        "token": token, "new_password": NEW_PASSWORD, "sign_out_everywhere": false,
        "code": app.code_now(&bob_secret),
    });
    let done = json(app.post("/v1/password-reset/confirm", &body).await).await;
    assert_eq!(done["two_step"], "on", "{done}");
    assert_eq!(app.session_status(&bob_session).await, 200, "not held");

    // Cat was not in the campaign: the done page only offers the factor.
    let token = app.reset_token(cat).await;
    let done = json(app.confirm(&token, NEW_PASSWORD, Some(true)).await).await;
    assert_eq!(done["two_step"], "offered", "{done}");
    assert_eq!(done["signed_out_everywhere"], true);
    assert_eq!(
        json(app.login(cat, NEW_PASSWORD).await).await["two_step_required"],
        false
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_done_page_leads_a_required_account_into_enrolment() {
    let app = spawn_app(Backend::Postgres).await;
    let dan = "dan@example.com";
    app.create_account(dan, Some(PASSWORD), false).await;
    let id = app
        .start_campaign(&json!({
            "scope": "all", "revoke_sessions": true, "notify": false,
            "require_two_step": true, "reason": "breach 2026-11"
        }))
        .await;
    app.wait_campaign(id, WAIT, |p| p["phase"] == "completed").await;

    let token = app.reset_token(dan).await;
    let done = post(
        &app,
        "/reset",
        &[("token", &token), ("new_password", NEW_PASSWORD)],
        None,
    )
    .await;
    assert_eq!(done.status(), 200);
    let page = done.text().await.unwrap();
    assert!(
        page.contains("One more step: turn on two-step verification"),
        "{page}"
    );
    assert!(page.contains("href=\"two-step\""), "{page}");
    // The campaign revoked sessions, so every device was signed out even without the box.
    assert!(page.contains("All devices were signed out"), "{page}");

    // Signing in lands on enrolment, which says it is required; confirming clears the hold.
    let cookie = sign_in_cookie(&app, dan, NEW_PASSWORD).await;
    let enrol = get(&app, "/two-step", Some(&cookie)).await.text().await.unwrap();
    assert!(
        enrol.contains("requires two-step verification for your account"),
        "{enrol}"
    );
    let secret = secret_on(&enrol);
    let on = post(
        &app,
        "/two-step",
        &[("code", &app.code_now(&secret))],
        Some(&cookie),
    )
    .await;
    assert_eq!(on.status(), 200);
    let session = cookie.split_once('=').unwrap().1;
    assert_eq!(app.session_status(session).await, 200);
}
