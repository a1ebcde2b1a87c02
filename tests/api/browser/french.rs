//! The journey in a Chromium whose language is French: every page says `lang="fr"`, and the
//! reset mail, asked for with a French `Accept-Language`, is French too.

use super::chrome::Browser;
use super::site::{Site, ALICE, NEW_PASSWORD};

async fn assert_french(browser: &Browser, page: &str) {
    let lang = browser.js_str("return document.documentElement.lang;").await;
    assert_eq!(
        lang,
        "fr",
        "{page} in a French browser; it says {:?}",
        browser.heading().await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_french_browser_gets_french_pages_and_a_french_mail() {
    let site = Site::start().await;
    let browser = Browser::start("fr").await;
    assert_eq!(
        browser.js_str("return navigator.language;").await,
        "fr",
        "the browser itself is set to French"
    );

    browser.goto(&site.url("forgot")).await;
    assert_french(&browser, "/forgot").await;
    browser.type_into("#email", ALICE).await;
    browser.next_page(browser.click("button[type=submit]")).await;
    assert_french(&browser, "the sent page").await;

    let mail = site.mail(1).await;
    let text = mail.text.clone().unwrap_or_default();
    if let Some(lang) = mail.header("Content-Language") {
        assert!(lang.starts_with("fr"), "Content-Language: {lang}");
    }
    assert_ne!(mail.subject, "Reset your password", "the subject is English");
    assert!(
        !text.contains("Someone asked to reset the password"),
        "the body is English:\n{text}"
    );

    browser.goto(&site.reset_link(1).await).await;
    assert_french(&browser, "the reset form").await;
    browser.type_into("#new_password", NEW_PASSWORD).await;
    browser.next_page(browser.click("button[type=submit]")).await;
    assert_french(&browser, "the done page").await;
    assert_eq!(site.app.login(ALICE, NEW_PASSWORD).await.status(), 200);
    browser.quit().await;
}
