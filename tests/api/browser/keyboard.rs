//! The whole reset with the keyboard alone (WCAG 2.1.1): Tab to move, typing, Space for the
//! checkbox, Enter to submit. No click and no element is addressed: keys go wherever the focus is,
//! and the focus order is asserted at each step.

use fantoccini::key::Key;

use super::chrome::Browser;
use super::site::{Site, ALICE, NEW_PASSWORD};

fn key(k: Key) -> String {
    (*k).to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_can_be_completed_with_the_keyboard_alone() {
    let site = Site::start().await;
    let browser = Browser::start("en").await;
    let (tab, space, enter) = (key(Key::Tab), key(Key::Space), key(Key::Enter));

    browser.goto(&site.url("forgot")).await;
    browser.press(&tab).await;
    assert_eq!(browser.focused().await, "#email");
    browser.press(ALICE).await;
    browser.next_page(browser.press(&enter)).await;
    assert_eq!(browser.heading().await, "Check your email");

    let link = site.reset_link(1).await;
    browser.goto(&link).await;
    browser.press(&tab).await;
    assert_eq!(
        browser.focused().await,
        "#username",
        "the account comes first, read-only but reachable"
    );
    browser.press(&tab).await;
    assert_eq!(browser.focused().await, "#new_password");
    browser.press(NEW_PASSWORD).await;
    browser.press(&tab).await;
    assert_eq!(browser.focused().await, "#sign_out_everywhere");
    let checked = "return document.getElementById('sign_out_everywhere').checked;";
    assert_eq!(browser.js(checked).await, true);
    browser.press(&space).await;
    assert_eq!(browser.js(checked).await, false, "Space unticks the box");
    browser.press(&space).await;
    assert_eq!(browser.js(checked).await, true, "and ticks it again");
    browser.press(&tab).await;
    assert_eq!(browser.focused().await, "button[submit]");
    browser.next_page(browser.press(&enter)).await;

    assert_eq!(browser.heading().await, "Your password has been changed");
    assert_eq!(site.app.login(ALICE, NEW_PASSWORD).await.status(), 200);
    browser.quit().await;
}
