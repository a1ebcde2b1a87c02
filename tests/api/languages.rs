//! Pages in the browser's language (Accept-Language), mail in the account's (its stored locale,
//! recorded by the request that triggered the reset), on both stores; the campaign notice and the
//! SMTP path on PostgreSQL.

use std::time::Duration;

use resetgate::reset::email::EmailAddress;
use serde_json::json;

use crate::helpers::{
    spawn_app, spawn_app_with, Backend, TestApp, BASE_URL, BROWSER_ACCEPT, ORIGIN, PASSWORD,
};
use crate::smtp_sink::{SinkOptions, SmtpSink};

crate::both_backends!(
    a_french_browser_gets_french_pages,
    the_default_language_serves_browsers_that_name_none_of_ours,
    forgot_in_french_mails_in_french_and_the_account_keeps_it,
    the_api_records_a_named_language_and_otherwise_keeps_the_stored_one,
    a_limited_french_browser_gets_a_french_busy_page,
);

const FRENCH: &str = "fr-CA,fr;q=0.9,en;q=0.8";
const NEW_PASSWORD: &str = "un tout nouveau mot de passe";
const FR_RESET_SUBJECT: &str = "Réinitialisation de votre mot de passe";
const FR_CHANGED_SUBJECT: &str = "Votre mot de passe a été changé";

async fn get(app: &TestApp, path: &str, lang: Option<&str>) -> (u16, String) {
    let mut req = app.client.get(app.url(path)).header("accept", BROWSER_ACCEPT);
    if let Some(lang) = lang {
        req = req.header("accept-language", lang);
    }
    let resp = req.send().await.expect("request");
    (resp.status().as_u16(), resp.text().await.expect("body"))
}

async fn post_form(app: &TestApp, path: &str, lang: Option<&str>, fields: &[(&str, &str)]) -> (u16, String) {
    let mut req = app
        .client
        .post(app.url(path))
        .header("accept", BROWSER_ACCEPT)
        .header("origin", ORIGIN)
        .form(fields);
    if let Some(lang) = lang {
        req = req.header("accept-language", lang);
    }
    let resp = req.send().await.expect("request");
    (resp.status().as_u16(), resp.text().await.expect("body"))
}

fn lang_of(page: &str) -> &str {
    let rest = page
        .strip_prefix("<!doctype html>\n<html lang=\"")
        .unwrap_or_else(|| panic!("not a page: {page}"));
    &rest[..rest.find('"').expect("closing quote")]
}

async fn stored_locale(app: &TestApp, email: &str) -> Option<&'static str> {
    let email = EmailAddress::parse(email).unwrap();
    let account = app
        .store
        .account_by_email(&email)
        .await
        .unwrap()
        .expect("account");
    account.locale.map(resetgate::i18n::Locale::tag)
}

async fn a_french_browser_gets_french_pages(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_account("alice@example.com", Some(PASSWORD), false)
        .await;
    let (status, page) = get(&app, "/forgot", Some(FRENCH)).await;
    assert_eq!(status, 200);
    assert_eq!(lang_of(&page), "fr");
    assert!(page.contains("Réinitialiser votre mot de passe"), "{page}");
    assert!(
        page.contains("<label for=\"email\">Adresse e-mail</label>"),
        "{page}"
    );

    // Every state of the journey, in French.
    let (_, sent) = post_form(&app, "/forgot", Some(FRENCH), &[("email", "alice@example.com")]).await;
    assert_eq!(lang_of(&sent), "fr");
    assert!(sent.contains("Si un compte existe pour cette adresse"), "{sent}");
    let mail = app.wait_for_mails("alice@example.com", 1).await.remove(0);
    let token = mail.token();
    let (_, form) = get(&app, &format!("/reset?token={token}"), Some("fr")).await;
    assert_eq!(lang_of(&form), "fr");
    assert!(form.contains("Utilisez au moins 15 caractères"), "{form}");
    let (status, refused) = post_form(
        &app,
        "/reset",
        Some("fr"),
        &[("token", &token), ("new_password", "PasswordPassword")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(refused.contains("Ce mot de passe est trop courant"), "{refused}");
    let (status, done) = post_form(
        &app,
        "/reset",
        Some("fr"),
        &[
            ("token", &token),
            ("new_password", NEW_PASSWORD),
            ("sign_out_everywhere", "yes"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert!(done.contains("Votre mot de passe a été changé"), "{done}");
    let (_, expired) = get(&app, &format!("/reset?token={token}"), Some("fr")).await;
    assert!(
        expired.contains("Ce lien a expiré ou a déjà été utilisé"),
        "{expired}"
    );
    let (status, invalid) = post_form(&app, "/forgot", Some("fr"), &[("email", "pas une adresse")]).await;
    assert_eq!(status, 400);
    assert!(
        invalid.contains("Ceci ne ressemble pas à une adresse e-mail"),
        "{invalid}"
    );
}

async fn the_default_language_serves_browsers_that_name_none_of_ours(backend: Backend) {
    let app = spawn_app(backend).await;
    for lang in [
        None,
        Some("de-DE,de;q=0.9"),
        Some("*"),
        Some(";;q=,,-"),
        Some("fr;q=0"),
    ] {
        let (status, page) = get(&app, "/forgot", lang).await;
        assert_eq!(status, 200, "{lang:?}");
        assert_eq!(lang_of(&page), "en", "{lang:?}");
    }
    // A header that is not even text is junk like any other.
    let resp = app
        .client
        .get(app.url("/forgot"))
        .header("accept", BROWSER_ACCEPT)
        .header(
            "accept-language",
            reqwest::header::HeaderValue::from_bytes(b"fr\xff").unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(lang_of(&resp.text().await.unwrap()), "en");

    // The configured default decides for them.
    let french = spawn_app_with(backend, &[("RESETGATE_DEFAULT_LOCALE", "fr")]).await;
    let (_, page) = get(&french, "/forgot", Some("de")).await;
    assert_eq!(lang_of(&page), "fr");
    let (_, page) = get(&french, "/forgot", Some("en-GB")).await;
    assert_eq!(lang_of(&page), "en");
}

async fn forgot_in_french_mails_in_french_and_the_account_keeps_it(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_account("alice@example.com", Some(PASSWORD), false)
        .await;
    assert_eq!(stored_locale(&app, "alice@example.com").await, None);
    let (known_status, known) =
        post_form(&app, "/forgot", Some(FRENCH), &[("email", "alice@example.com")]).await;
    let (unknown_status, unknown) =
        post_form(&app, "/forgot", Some(FRENCH), &[("email", "nobody@example.com")]).await;
    assert_eq!((known_status, unknown_status), (200, 200));
    assert_eq!(known, unknown, "known and unknown addresses get the same page");

    let mail = app.wait_for_mails("alice@example.com", 1).await.remove(0);
    assert_eq!(mail.subject, FR_RESET_SUBJECT);
    let minutes = app.config.token_ttl.as_secs() / 60;
    assert!(
        mail.body
            .contains(&format!("ouvrez ce lien d’ici {minutes} minutes")),
        "{}",
        mail.body
    );
    assert!(
        mail.body.contains(&format!("\n{BASE_URL}reset?token=")),
        "{}",
        mail.body
    );
    assert_eq!(stored_locale(&app, "alice@example.com").await, Some("fr"));

    // The changed notice follows the stored language, whatever the confirming client speaks.
    let token = mail.token();
    assert_eq!(app.confirm(&token, NEW_PASSWORD, None).await.status(), 200);
    let notice = app.wait_for_mails("alice@example.com", 2).await.remove(1);
    assert_eq!(notice.subject, FR_CHANGED_SUBJECT);
    assert!(
        notice.body.contains(&format!("\n{BASE_URL}forgot\n")),
        "{}",
        notice.body
    );

    // An English browser later switches it back.
    post_form(&app, "/forgot", Some("en-US"), &[("email", "alice@example.com")]).await;
    let mail = app.wait_for_mails("alice@example.com", 3).await.remove(2);
    assert_eq!(mail.subject, "Reset your password");
    assert_eq!(stored_locale(&app, "alice@example.com").await, Some("en"));
}

async fn the_api_records_a_named_language_and_otherwise_keeps_the_stored_one(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_account("bob@example.com", Some(PASSWORD), false).await;
    let resp = app
        .client
        .post(app.url("/v1/password-reset/request"))
        .header("accept-language", "fr")
        .json(&json!({ "email": "bob@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let first = app.wait_for_mails("bob@example.com", 1).await.remove(0);
    assert_eq!(first.subject, FR_RESET_SUBJECT);
    assert_eq!(stored_locale(&app, "bob@example.com").await, Some("fr"));
    // No Accept-Language: the stored language stands.
    assert_eq!(app.request_reset("bob@example.com").await.status(), 202);
    let second = app.wait_for_mails("bob@example.com", 2).await.remove(1);
    assert_eq!(second.subject, FR_RESET_SUBJECT);
    assert_eq!(stored_locale(&app, "bob@example.com").await, Some("fr"));
}

async fn a_limited_french_browser_gets_a_french_busy_page(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("RESETGATE_RATE_IP_BURST", "1"),
            ("RESETGATE_RATE_IP_PER_MIN", "1"),
        ],
    )
    .await;
    assert_eq!(get(&app, "/forgot", Some("fr")).await.0, 200);
    let (status, page) = get(&app, "/forgot", Some("fr")).await;
    assert_eq!(status, 429);
    assert_eq!(lang_of(&page), "fr");
    assert!(page.contains("Trop de tentatives"), "{page}");
    assert!(page.contains("Cette page réessaiera d’elle-même dans"), "{page}");
}

/// The campaign notice is written in each account's stored language (PostgreSQL: campaigns need
/// it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_campaign_notice_follows_each_accounts_language() {
    let app = spawn_app(Backend::Postgres).await;
    app.create_account("anne@example.com", Some(PASSWORD), false)
        .await;
    app.create_account("bill@example.com", Some(PASSWORD), false)
        .await;
    post_form(&app, "/forgot", Some("fr"), &[("email", "anne@example.com")]).await;
    app.wait_for_mails("anne@example.com", 1).await;
    let id = app
        .start_campaign(&json!({
            "scope": "all", "revoke_sessions": false, "notify": true, "reason": "breach 2026-12"
        }))
        .await;
    app.wait_campaign(id, Duration::from_secs(30), |p| p["phase"] == "completed")
        .await;
    let anne = app.wait_for_mails("anne@example.com", 2).await.remove(1);
    assert_eq!(
        anne.subject,
        "Action requise\u{a0}: choisissez un nouveau mot de passe"
    );
    assert!(
        anne.body.contains(&format!("\n{BASE_URL}forgot\n")),
        "{}",
        anne.body
    );
    let bill = app.wait_for_mails("bill@example.com", 1).await.remove(0);
    assert_eq!(bill.subject, "Action required: choose a new password");
    let row = app
        .pg()
        .await
        .query_one(
            "SELECT locale FROM outbox WHERE recipient = 'anne@example.com' AND kind = 'campaign_notice'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, Option<String>>(0).as_deref(), Some("fr"));
}

/// Through a real SMTP relay: the French subject is encoded for the wire and decodes back, and
/// both parts are French with the link from the base URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_french_reset_mail_arrives_in_french_over_smtp() {
    let sink = SmtpSink::start(&SinkOptions::default()).await;
    let port = sink.port.to_string();
    let app = spawn_app_with(
        Backend::Postgres,
        &[
            ("RESETGATE_MAIL_TRANSPORT", "smtp"),
            ("RESETGATE_SMTP_TIMEOUT_MS", "3000"),
            ("RESETGATE_SMTP_HOST", "127.0.0.1"),
            ("RESETGATE_SMTP_PORT", &port),
            ("RESETGATE_SMTP_TLS", "none"),
        ],
    )
    .await;
    app.create_account("alice@example.com", Some(PASSWORD), false)
        .await;
    post_form(&app, "/forgot", Some(FRENCH), &[("email", "alice@example.com")]).await;
    let mail = sink.wait_for(1, Duration::from_secs(10)).await.remove(0);
    assert_eq!(mail.subject, FR_RESET_SUBJECT);
    let text = mail.text.as_deref().expect("a text part");
    let html = mail.html.as_deref().expect("an HTML part");
    let link = format!("{BASE_URL}reset?token={}", mail.token());
    assert!(text.contains("Quelqu’un a demandé à réinitialiser"), "{text}");
    assert!(text.contains(&link), "{text}");
    assert!(
        html.contains(&format!("<a href=\"{link}\">Choisir un nouveau mot de passe</a>")),
        "{html}"
    );
    assert!(!text.contains(['\u{2068}', '\u{2069}']), "{text:?}");
}
