//! The second factor over the public API (issue #14), on both stores: enrolment from a session,
//! step-up on login with a single-use challenge, the session's amr/aal, replay and lockout
//! answers, recovery codes, and removal only with a proof.

use chrono::Duration;
use reqwest::Method;
use resetgate::mfa::totp::TotpSecret;
use serde_json::{json, Value};

use crate::helpers::{json, spawn_app, spawn_app_with, Backend, TestApp, ORIGIN, PASSWORD};

crate::both_backends!(
    enrolment_then_login_needs_the_code_and_the_session_says_so,
    a_code_is_refused_the_second_time_and_wrong_codes_lock,
    a_recovery_code_signs_in_once,
    the_factor_is_removed_only_with_a_proof,
    challenges_and_bodies_are_checked,
    a_reset_cannot_walk_past_the_factor,
    the_shorter_minimum_needs_a_confirmed_factor,
    the_reset_page_asks_an_enrolled_account_for_its_code,
    the_owner_hears_of_every_change_to_the_factor,
    support_clears_a_factor_through_the_admin_api,
    code_checks_go_through_the_same_limits_as_the_rest,
);

const EMAIL: &str = "two-step@example.com";

pub(crate) async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    session: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = app.client.request(method, app.url(path)).bearer_auth(session);
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.expect("request")
}

/// An account with a confirmed factor: its secret (read as a person would, from the enrolment
/// answer) and its recovery codes. The clock then moves a step, so the confirming code is spent.
async fn enrolled(app: &TestApp) -> (TotpSecret, Vec<String>) {
    enrolled_as(app, EMAIL).await
}

/// As [`enrolled`], for `email`.
pub(crate) async fn enrolled_as(app: &TestApp, email: &str) -> (TotpSecret, Vec<String>) {
    app.create_account(email, Some(PASSWORD), false).await;
    let session = app.session_token(email, PASSWORD).await;
    let begun = call(app, Method::POST, "/v1/mfa/totp", &session, None).await;
    assert_eq!(begun.status(), 201);
    let begun = json(begun).await;
    assert!(begun["otpauth_uri"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/"));
    assert!(begun["qr_svg"].as_str().unwrap().contains("<svg"));
    let typed = begun["secret"].as_str().unwrap().replace(' ', "");
    let bytes = totp_rs::Secret::try_from_base32(typed).unwrap();
    let secret = TotpSecret::from_bytes(bytes.as_bytes()).unwrap();

    // Until confirmed, login is unchanged.
    assert_eq!(app.login(email, PASSWORD).await.status(), 200);
    let confirmed = call(
        app,
        Method::POST,
        "/v1/mfa/totp/confirm",
        &session,
        Some(json!({ "code": app.code_now(&secret) })),
    )
    .await;
    assert_eq!(confirmed.status(), 200);
    let codes: Vec<String> = json(confirmed).await["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    app.clock.advance(Duration::seconds(30));
    (secret, codes)
}

/// Logs in with the password; returns the challenge of the `mfa_required` answer.
async fn challenge(app: &TestApp) -> String {
    let resp = app.login(EMAIL, PASSWORD).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.headers()["www-authenticate"], "Bearer");
    let body = json(resp).await;
    assert_eq!(body["code"], "mfa_required", "{body}");
    assert_eq!(body["challenge_expires_in"], 300);
    assert!(body.get("session_token").is_none());
    body["challenge"].as_str().unwrap().to_owned()
}

async fn second_step(app: &TestApp, body: Value) -> reqwest::Response {
    app.post("/v1/login/mfa", &body).await
}

async fn session_of(app: &TestApp, token: &str) -> Value {
    let resp = call(app, Method::GET, "/v1/session", token, None).await;
    assert_eq!(resp.status(), 200);
    json(resp).await
}

async fn enrolment_then_login_needs_the_code_and_the_session_says_so(backend: Backend) {
    let app = spawn_app(backend).await;
    let (secret, _) = enrolled(&app).await;
    let challenge = challenge(&app).await;
    let resp = second_step(
        &app,
        json!({ "challenge": challenge, "code": app.code_now(&secret) }),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let token = json(resp).await["session_token"].as_str().unwrap().to_owned();
    let info = session_of(&app, &token).await;
    assert_eq!(info["amr"], json!(["pwd", "otp"]));
    assert_eq!(info["aal"], 2);
    // The challenge is used up.
    app.clock.advance(Duration::seconds(30));
    let again = second_step(
        &app,
        json!({ "challenge": challenge, "code": app.code_now(&secret) }),
    )
    .await;
    assert_eq!(again.status(), 401);
    assert_eq!(json(again).await["code"], "mfa_challenge_invalid");
    // A second enrolment is refused while one is on.
    let conflict = call(&app, Method::POST, "/v1/mfa/totp", &token, None).await;
    assert_eq!(conflict.status(), 409);
    assert_eq!(json(conflict).await["code"], "mfa_already_enrolled");
}

async fn a_code_is_refused_the_second_time_and_wrong_codes_lock(backend: Backend) {
    let app = spawn_app(backend).await;
    let (secret, codes) = enrolled(&app).await;
    let code = app.code_now(&secret);
    let first = second_step(&app, json!({ "challenge": challenge(&app).await, "code": code })).await;
    assert_eq!(first.status(), 200);
    let replay = second_step(&app, json!({ "challenge": challenge(&app).await, "code": code })).await;
    assert_eq!(replay.status(), 401);
    assert_eq!(json(replay).await["code"], "mfa_code_invalid");

    // A wrong code leaves the challenge usable; five refusals in the window lock, and the
    // replay above was the first.
    let c = challenge(&app).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..3 {
        let resp = second_step(&app, json!({ "challenge": c, "code": wrong })).await;
        assert_eq!(json(resp).await["code"], "mfa_code_invalid");
    }
    let locked = second_step(&app, json!({ "challenge": c, "code": wrong })).await;
    assert_eq!(locked.status(), 429);
    let retry: u64 = locked.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((800..=901).contains(&retry), "about 15 minutes: {retry}");
    assert_eq!(json(locked).await["code"], "mfa_locked");
    // Even the right code and a recovery code wait out the lock.
    app.clock.advance(Duration::seconds(30));
    let right = second_step(&app, json!({ "challenge": c, "code": app.code_now(&secret) })).await;
    assert_eq!(right.status(), 429);
    let recovery = second_step(&app, json!({ "challenge": c, "recovery_code": codes[0] })).await;
    assert_eq!(recovery.status(), 429);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("resetgate_mfa_verifications_total{outcome=\"locked\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains("resetgate_mfa_verifications_total{outcome=\"replayed\"} 1"));

    app.clock.advance(Duration::minutes(16));
    let fresh = challenge(&app).await;
    let after = second_step(&app, json!({ "challenge": fresh, "code": app.code_now(&secret) })).await;
    assert_eq!(after.status(), 200);
}

async fn a_recovery_code_signs_in_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, codes) = enrolled(&app).await;
    let resp = second_step(
        &app,
        json!({ "challenge": challenge(&app).await, "recovery_code": codes[2].to_uppercase() }),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let token = json(resp).await["session_token"].as_str().unwrap().to_owned();
    let info = session_of(&app, &token).await;
    assert_eq!(
        (info["amr"].clone(), info["aal"].clone()),
        (json!(["pwd", "recovery"]), json!(2))
    );
    let again = second_step(
        &app,
        json!({ "challenge": challenge(&app).await, "recovery_code": codes[2] }),
    )
    .await;
    assert_eq!(json(again).await["code"], "mfa_code_invalid");
    assert!(app
        .metrics()
        .await
        .contains("resetgate_mfa_recovery_codes_used_total 1"));

    // New codes void the old set.
    let fresh = call(
        &app,
        Method::POST,
        "/v1/mfa/recovery-codes",
        &token,
        Some(json!({ "recovery_code": codes[3] })),
    )
    .await;
    assert_eq!(fresh.status(), 200);
    let fresh = json(fresh).await["recovery_codes"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let old = second_step(
        &app,
        json!({ "challenge": challenge(&app).await, "recovery_code": codes[4] }),
    )
    .await;
    assert_eq!(json(old).await["code"], "mfa_code_invalid");
    let new = second_step(
        &app,
        json!({ "challenge": challenge(&app).await, "recovery_code": fresh }),
    )
    .await;
    assert_eq!(new.status(), 200);
}

async fn the_factor_is_removed_only_with_a_proof(backend: Backend) {
    let app = spawn_app(backend).await;
    let (secret, _) = enrolled(&app).await;
    let login = second_step(
        &app,
        json!({ "challenge": challenge(&app).await, "code": app.code_now(&secret) }),
    )
    .await;
    let token = json(login).await["session_token"].as_str().unwrap().to_owned();
    app.clock.advance(Duration::seconds(30));
    let wrong = call(
        &app,
        Method::DELETE,
        "/v1/mfa/totp",
        &token,
        Some(json!({ "code": "12 34 56" })),
    )
    .await;
    assert_eq!(wrong.status(), 401);
    let none = call(&app, Method::DELETE, "/v1/mfa/totp", &token, Some(json!({}))).await;
    assert_eq!(none.status(), 400);
    let removed = call(
        &app,
        Method::DELETE,
        "/v1/mfa/totp",
        &token,
        Some(json!({ "code": app.code_now(&secret) })),
    )
    .await;
    assert_eq!(removed.status(), 200);
    // A password alone signs in again, at AAL1.
    let plain = app.session_token(EMAIL, PASSWORD).await;
    let info = session_of(&app, &plain).await;
    assert_eq!(
        (info["amr"].clone(), info["aal"].clone()),
        (json!(["pwd"]), json!(1))
    );
    let gone = call(
        &app,
        Method::DELETE,
        "/v1/mfa/totp",
        &plain,
        Some(json!({ "code": "123456" })),
    )
    .await;
    assert_eq!(json(gone).await["code"], "mfa_not_enrolled");
}

async fn challenges_and_bodies_are_checked(backend: Backend) {
    let app = spawn_app(backend).await;
    let (secret, _) = enrolled(&app).await;
    for body in [
        json!({ "challenge": "not-a-challenge", "code": "123456" }),
        json!({ "challenge": "A".repeat(43), "code": app.code_now(&secret) }),
    ] {
        let resp = second_step(&app, body).await;
        assert_eq!(resp.status(), 401);
        assert_eq!(json(resp).await["code"], "mfa_challenge_invalid");
    }
    let c = challenge(&app).await;
    for body in [
        json!({ "challenge": c }),
        json!({ "challenge": c, "code": "12345" }),
        json!({ "challenge": c, "code": "123456", "recovery_code": "abcd-abcd-abcd-abcd" }),
        json!({ "challenge": c, "recovery_code": "short" }),
    ] {
        let resp = second_step(&app, body.clone()).await;
        assert_eq!(resp.status(), 400, "{body}");
        assert_eq!(json(resp).await["code"], "invalid_request");
    }
    // Enrolment needs a session.
    let anonymous = app.client.post(app.url("/v1/mfa/totp")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    // The challenge expires.
    app.clock.advance(Duration::minutes(6));
    let late = second_step(&app, json!({ "challenge": c, "code": app.code_now(&secret) })).await;
    assert_eq!(json(late).await["code"], "mfa_challenge_invalid");
}

async fn confirm_with(app: &TestApp, token: &str, password: &str, extra: Value) -> reqwest::Response {
    let mut body = json!({ "token": token, "new_password": password });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    app.post("/v1/password-reset/confirm", &body).await
}

async fn a_reset_cannot_walk_past_the_factor(backend: Backend) {
    let app = spawn_app(backend).await;
    let (secret, codes) = enrolled(&app).await;
    // reset_token asks for the link itself.
    let token = app.reset_token(EMAIL).await;
    let new_password = "a fresh passphrase after the breach";

    let bare = confirm_with(&app, &token, new_password, json!({})).await;
    let status = bare.status();
    let bare = json(bare).await;
    assert_eq!(status, 401, "{bare}");
    assert_eq!(bare["code"], "mfa_required");
    assert!(bare.get("challenge").is_none(), "{bare}");
    let wrong = confirm_with(&app, &token, new_password, json!({ "code": "000000" })).await;
    assert_eq!(json(wrong).await["code"], "mfa_code_invalid");
    // The token survived both refusals, and a right code completes the reset.
    let done = confirm_with(
        &app,
        &token,
        new_password,
        json!({ "code": app.code_now(&secret) }),
    )
    .await;
    assert_eq!(done.status(), 200);
    // The new password still needs the factor at login.
    assert_eq!(
        json(app.login(EMAIL, new_password).await).await["code"],
        "mfa_required"
    );

    // A recovery code works for a reset too, once.
    let token = app.reset_token(EMAIL).await;
    let done = confirm_with(
        &app,
        &token,
        "yet another passphrase, longer",
        json!({ "recovery_code": codes[0] }),
    )
    .await;
    assert_eq!(done.status(), 200);
}

async fn the_shorter_minimum_needs_a_confirmed_factor(backend: Backend) {
    let app = spawn_app(backend).await;
    // Flagged `mfa_enabled` at creation but with no factor behind it: the full minimum applies.
    app.create_account("flag-only@example.com", Some(PASSWORD), true)
        .await;
    let token = app.reset_token("flag-only@example.com").await;
    let short = confirm_with(&app, &token, "short pw 10", json!({})).await;
    assert_eq!(short.status(), 422);
    assert_eq!(json(short).await["code"], "password_too_short");

    // With a confirmed factor, 8 characters are enough (and the code is required).
    let (secret, _) = enrolled(&app).await;
    let token = app.reset_token(EMAIL).await;
    let ok = confirm_with(&app, &token, "eight ch", json!({ "code": app.code_now(&secret) })).await;
    assert_eq!(ok.status(), 200, "{}", json(ok).await);
}

/// A form post from our own origin, as a browser on the site sends it.
async fn post_page(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let resp = app
        .client
        .post(app.url(path))
        .header("accept", "text/html")
        .header("origin", ORIGIN)
        .form(fields)
        .send()
        .await
        .expect("request");
    (resp.status().as_u16(), resp.text().await.unwrap())
}

async fn the_reset_page_asks_an_enrolled_account_for_its_code(backend: Backend) {
    let app = spawn_app(backend).await;
    // Without a factor, no code field.
    app.create_account("plain@example.com", Some(PASSWORD), false)
        .await;
    let plain = app.reset_token("plain@example.com").await;
    let page = app
        .get(&format!("/reset?token={plain}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("id=\"new_password\"") && !page.contains("id=\"code\""),
        "{page}"
    );

    let (_, codes) = enrolled(&app).await;
    let token = app.reset_token(EMAIL).await;
    let page = app
        .get(&format!("/reset?token={token}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("autocomplete=\"one-time-code\""), "{page}");
    assert!(
        page.contains("Use at least 8 characters"),
        "a confirmed factor earns the shorter minimum: {page}"
    );

    let new_password = "a fresh passphrase after the breach";
    let post = |code: &'static str| submit(&app, &token, new_password, code);
    let (status, page) = post("").await;
    assert_eq!(status, 422);
    assert!(
        page.contains("role=\"alert\">Enter the code from your authenticator app"),
        "{page}"
    );
    assert!(page.contains(&format!("value=\"{token}\"")), "the token is kept");
    let (status, page) = post("12345").await;
    assert_eq!(status, 422);
    assert!(page.contains("A code is 6 digits"), "{page}");
    let (status, page) = post("000000").await;
    assert_eq!(status, 422);
    assert!(page.contains("This code is wrong or was already used"), "{page}");
    // A recovery code from paper, with spaces, completes it.
    let paper = codes[0].replace('-', " ");
    let (status, page) = submit(&app, &token, new_password, &paper).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        json(app.login(EMAIL, new_password).await).await["code"],
        "mfa_required"
    );
}

async fn submit(app: &TestApp, token: &str, password: &str, code: &str) -> (u16, String) {
    let fields = [
        ("token", token),
        ("new_password", password),
        ("sign_out_everywhere", "yes"),
        ("code", code),
    ];
    post_page(app, "/reset", &fields).await
}

async fn subjects(app: &TestApp, n: usize) -> Vec<String> {
    app.wait_for_mails(EMAIL, n)
        .await
        .into_iter()
        .map(|m| m.subject)
        .collect()
}

async fn the_owner_hears_of_every_change_to_the_factor(backend: Backend) {
    let app = spawn_app(backend).await;
    let (secret, codes) = enrolled(&app).await;
    assert_eq!(subjects(&app, 1).await, ["Two-step verification is on"]);
    let resp = second_step(
        &app,
        json!({ "challenge": challenge(&app).await, "recovery_code": codes[0] }),
    )
    .await;
    let token = json(resp).await["session_token"].as_str().unwrap().to_owned();
    assert_eq!(subjects(&app, 2).await[1], "A recovery code was used");
    let removed = call(
        &app,
        Method::DELETE,
        "/v1/mfa/totp",
        &token,
        Some(json!({ "code": app.code_now(&secret) })),
    )
    .await;
    assert_eq!(removed.status(), 200);
    let mails = app.wait_for_mails(EMAIL, 3).await;
    assert_eq!(mails[2].subject, "Two-step verification was turned off");
    // A notice says what to do if it was not the owner, and signs nobody in.
    assert!(mails[2].body.contains("/forgot"), "{}", mails[2].body);
    assert!(!mails[2].body.contains("token="), "{}", mails[2].body);
}

async fn support_clears_a_factor_through_the_admin_api(backend: Backend) {
    let app = spawn_app(backend).await;
    enrolled(&app).await;
    let id = app
        .store
        .account_by_email(&resetgate::reset::email::EmailAddress::parse(EMAIL).unwrap())
        .await
        .unwrap()
        .unwrap()
        .id;
    let clear = |path: String, body: Value| app.admin(Method::POST, &path).json(&body).send();
    let path = format!("/admin/v1/accounts/{id}/mfa/clear");
    let nameless = clear(path.clone(), json!({ "admin": "" })).await.unwrap();
    assert_eq!(json(nameless).await["code"], "invalid_request");
    let unknown = clear(
        "/admin/v1/accounts/999999/mfa/clear".into(),
        json!({ "admin": "alice" }),
    )
    .await
    .unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(json(unknown).await["code"], "account_not_found");
    // Without the admin token, nothing.
    let anonymous = app
        .client
        .post(format!("http://{}{path}", app.admin_addr.unwrap()))
        .json(&json!({ "admin": "alice" }))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    let cleared = clear(path.clone(), json!({ "admin": "alice" })).await.unwrap();
    assert_eq!(cleared.status(), 200);
    assert_eq!(
        json(cleared).await,
        json!({ "status": "cleared", "account_id": id })
    );
    // A password alone signs in again; the owner was told; the trail names alice.
    assert_eq!(app.login(EMAIL, PASSWORD).await.status(), 200);
    assert_eq!(subjects(&app, 2).await[1], "Two-step verification was turned off");
    let trail = app.store.clone().factors().audit_trail(id).await.unwrap();
    assert_eq!(trail.last().map(|e| e.actor.as_str()), Some("admin:alice"));
    let again = clear(path, json!({ "admin": "alice" })).await.unwrap();
    assert_eq!(json(again).await["code"], "mfa_not_enrolled");
}

async fn code_checks_go_through_the_same_limits_as_the_rest(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("RESETGATE_RATE_IP_BURST", "1"),
            ("RESETGATE_RATE_IP_PER_MIN", "1"),
        ],
    )
    .await;
    // Cheap as a code check is, guessing codes from one address is held back like guessing
    // passwords: the per-address limit answers before the handler runs.
    let body = json!({ "challenge": "A".repeat(43), "code": "123456" });
    assert_eq!(second_step(&app, body.clone()).await.status(), 401);
    let limited = second_step(&app, body).await;
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));
    assert_eq!(json(limited).await["code"], "rate_limited");
}
