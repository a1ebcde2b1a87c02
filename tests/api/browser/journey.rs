//! Issue #13's journey in Chromium, as a person on breach day makes it: ask for a link, read the
//! mail, open the link after a mail scanner already fetched it, have a common password refused,
//! choose a good one, and find that the old password and the old sessions are gone.

use super::chrome::Browser;
use super::site::{Site, ALICE, COMMON_PASSWORD, NEW_PASSWORD};
use crate::helpers::PASSWORD;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reset_journey_in_chromium_ends_with_the_new_password_and_old_sessions_revoked() {
    let site = Site::start().await;
    let old_session = site.app.session_token(ALICE, PASSWORD).await;
    let browser = Browser::start("en").await;

    browser.goto(&site.url("forgot")).await;
    assert_eq!(browser.heading().await, "Reset your password");
    browser.type_into("#email", ALICE).await;
    browser.next_page(browser.click("button[type=submit]")).await;
    assert_eq!(browser.heading().await, "Check your email");

    let link = site.reset_link(1).await;
    // A mail scanner or link previewer fetches the link first: a plain GET, no browser headers.
    let scanned = reqwest::get(&link).await.expect("scanner GET");
    assert_eq!(scanned.status(), 200);

    browser.goto(&link).await;
    assert_eq!(browser.heading().await, "Choose a new password");
    // The page's CSP holds in a real browser: a script the page itself would add does not run.
    assert_eq!(
        browser
            .js(
                "const s = document.createElement('script'); s.textContent = 'window.__rg_inline = 1';
                 document.head.appendChild(s); return window.__rg_inline === undefined;"
            )
            .await,
        true,
        "an inline script ran despite the Content-Security-Policy"
    );

    browser.type_into("#new_password", COMMON_PASSWORD).await;
    browser.next_page(browser.click("button[type=submit]")).await;
    let alert = browser
        .find("[role=alert]")
        .await
        .text()
        .await
        .expect("alert text");
    assert!(alert.contains("too common"), "{alert}");
    assert_eq!(
        browser.focused().await,
        "#new_password",
        "focus is on the field to fix"
    );
    assert_eq!(
        browser
            .js_str("return document.getElementById('new_password').value;")
            .await,
        "",
        "the refused password is not kept in the form"
    );

    browser.type_into("#new_password", NEW_PASSWORD).await;
    assert_eq!(
        browser
            .js("return document.getElementById('sign_out_everywhere').checked;")
            .await,
        true,
        "signing out everywhere is the default"
    );
    browser.next_page(browser.click("button[type=submit]")).await;
    assert_eq!(browser.heading().await, "Your password has been changed");
    let done = browser.find("main").await.text().await.expect("main text");
    assert!(done.contains("All devices were signed out"), "{done}");

    assert_eq!(site.app.login(ALICE, NEW_PASSWORD).await.status(), 200);
    assert_eq!(site.app.login(ALICE, PASSWORD).await.status(), 401);
    assert_eq!(
        site.app.session_status(&old_session).await,
        401,
        "a session opened before the reset is revoked"
    );
    let notice = site.mail(2).await;
    assert_eq!(notice.subject, "Your password was changed");

    // The link is spent now, in the browser too.
    browser.goto(&link).await;
    assert_eq!(
        browser.heading().await,
        "This link has expired or was already used"
    );
    browser.quit().await;
}
