//! Turning on two-step verification in Chromium (issue #14): sign in on the page, read the key
//! from the enrolment page as a person would type it into an app, confirm with the code it gives,
//! see the recovery codes, then sign in again with the password and the next code. Each page on
//! the way has zero axe violations.

use chrono::Duration;
use resetgate::clock::Clock as _;
use resetgate::mfa::totp::TotpSecret;

use super::axe;
use super::chrome::Browser;
use super::site::{Site, ALICE};
use super::validator;
use crate::helpers::PASSWORD;

/// Checks the page with axe, and keeps its document for the validator run at the end.
async fn no_violations(browser: &Browser, page: &str, kept: &tempfile::TempDir) {
    let found = axe::violations(browser).await;
    assert!(found.is_empty(), "{page}: {found:#?}");
    let html = browser
        .js_str("return '<!doctype html>\\n' + document.documentElement.outerHTML;")
        .await;
    std::fs::write(kept.path().join(format!("{page}.html")), html).expect("keep the page");
}

fn code_now(site: &Site, secret: &TotpSecret) -> String {
    secret.code_at(u64::try_from(site.app.clock.now().timestamp()).unwrap())
}

async fn sign_in(browser: &Browser, site: &Site, kept: &tempfile::TempDir) {
    browser.goto(&site.url("sign-in")).await;
    no_violations(browser, "sign-in", kept).await;
    browser.type_into("#email", ALICE).await;
    browser.type_into("#password", PASSWORD).await;
    browser.next_page(browser.click("button[type=submit]")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_turns_on_two_step_verification_and_signs_in_with_it() {
    let site = Site::start().await;
    let browser = Browser::start("en").await;
    let kept = tempfile::tempdir().expect("tempdir");

    sign_in(&browser, &site, &kept).await;
    assert_eq!(browser.heading().await, "Turn on two-step verification");
    no_violations(&browser, "enrolment", &kept).await;
    let shown = browser
        .js_str("return document.getElementById('secret').textContent;")
        .await;
    let bytes = totp_rs::Secret::try_from_base32(shown.replace(' ', "")).expect("the page shows base32");
    let secret = TotpSecret::from_bytes(bytes.as_bytes()).unwrap();
    assert_eq!(
        browser
            .js("return document.querySelectorAll('figure svg path').length;")
            .await,
        1
    );

    browser.type_into("#code", &code_now(&site, &secret)).await;
    browser.next_page(browser.click("button[type=submit]")).await;
    assert_eq!(browser.heading().await, "Two-step verification is on");
    no_violations(&browser, "recovery-codes", &kept).await;
    let codes = browser
        .js("return document.querySelectorAll('#recovery-codes code').length;")
        .await;
    assert_eq!(codes, 10);

    // A new browser: the password, then the next code.
    browser.quit().await;
    let browser = Browser::start("en").await;
    site.app.clock.advance(Duration::seconds(30));
    sign_in(&browser, &site, &kept).await;
    assert_eq!(browser.heading().await, "Enter your code");
    no_violations(&browser, "code", &kept).await;
    browser.type_into("#code", "000000").await;
    browser.next_page(browser.click("button[type=submit]")).await;
    let error = browser
        .js_str("return document.querySelector('[role=alert]').textContent;")
        .await;
    assert!(error.contains("wrong or was already used"), "{error}");
    no_violations(&browser, "wrong-code", &kept).await;
    browser.type_into("#code", &code_now(&site, &secret)).await;
    browser.next_page(browser.click("button[type=submit]")).await;
    assert_eq!(browser.heading().await, "Two-step verification is on");
    no_violations(&browser, "on", &kept).await;
    browser.quit().await;

    // Every page on the way, through the Nu Html Checker.
    let files: Vec<_> = std::fs::read_dir(kept.path())
        .expect("kept pages")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(files.len(), 6);
    let messages = tokio::task::spawn_blocking(move || validator::vnu(&files))
        .await
        .expect("vnu thread");
    let errors: Vec<String> = messages
        .iter()
        .map(|m| format!("{}: {}", validator::file_of(m), m["message"]))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}
