//! The operator's brand: product name and support contact on every page (escaped) and in the
//! mails, the brand stylesheet served with the stylesheet headers and linked after the built-in
//! one, and a bad stylesheet or language stopping the real binary at start (exit 64).

use std::time::Duration;

use crate::cli::{resetgate, GatewayChild};
use crate::helpers::{spawn_app, spawn_app_with, Backend, TestApp, BROWSER_ACCEPT, PASSWORD};

crate::both_backends!(
    pages_show_the_product_name_and_the_support_contact_escaped,
    the_brand_stylesheet_is_served_like_the_builtin_one,
    mails_name_the_product_and_the_support_contact,
);

const CSS: &str = "header .product { color: #0b6e4f; }\n";

async fn page(app: &TestApp, path: &str) -> String {
    let resp = app
        .client
        .get(app.url(path))
        .header("accept", BROWSER_ACCEPT)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap()
}

fn branded(dir: &tempfile::TempDir) -> Vec<(&'static str, String)> {
    let css = dir.path().join("brand.css");
    std::fs::write(&css, CSS).unwrap();
    vec![
        ("RESETGATE_PRODUCT_NAME", "Acme <Accounts> & Co".to_owned()),
        (
            "RESETGATE_SUPPORT_CONTACT",
            "https://help.acme.test/?q=reset&lang=1".to_owned(),
        ),
        ("RESETGATE_BRAND_STYLESHEET", css.display().to_string()),
    ]
}

async fn spawn_branded(backend: Backend, dir: &tempfile::TempDir) -> TestApp {
    let vars = branded(dir);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    spawn_app_with(backend, &vars).await
}

async fn pages_show_the_product_name_and_the_support_contact_escaped(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_branded(backend, &dir).await;
    for path in ["/forgot", "/reset?token=expired"] {
        let body = page(&app, path).await;
        assert!(
            body.contains(" – Acme &#60;Accounts&#62; &#38; Co</title>"),
            "{path}: {body}"
        );
        assert!(
            body.contains("<p class=\"product\">Acme &#60;Accounts&#62; &#38; Co</p>"),
            "{path}: {body}"
        );
        assert!(
            body.contains(
                "<footer><p>Need help? Contact support: <a href=\"https://help.acme.test/?q=reset&#38;lang=1\">"
            ),
            "{path}: {body}"
        );
        assert!(!body.contains("<Accounts>"), "{path}: {body}");
    }
    let forgot = page(&app, "/forgot").await;
    assert!(
        forgot.contains("your Acme &#60;Accounts&#62; &#38; Co account"),
        "{forgot}"
    );

    // Unset: the host of the base URL, and no footer rather than a link to nowhere.
    let plain = spawn_app(backend).await;
    let body = page(&plain, "/forgot").await;
    assert!(
        body.contains("Reset your password – reset.example.test</title>"),
        "{body}"
    );
    assert!(
        !body.contains("<footer>") && !body.contains("brand.css"),
        "{body}"
    );
}

async fn the_brand_stylesheet_is_served_like_the_builtin_one(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_branded(backend, &dir).await;
    let body = page(&app, "/forgot").await;
    let at = body
        .find("href=\"assets/brand.css?v=")
        .expect("the page links the brand stylesheet");
    let href = &body[at + "href=\"".len()..];
    let href = &href[..href.find('"').unwrap()];
    assert!(
        body.find("assets/style.css").unwrap() < at,
        "linked after the built-in one: {body}"
    );
    let resp = app.client.get(app.url(&format!("/{href}"))).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let h = resp.headers();
    assert_eq!(h["content-type"], "text/css; charset=utf-8");
    assert_eq!(h["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(
        h["content-security-policy"],
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    assert_eq!(resp.text().await.unwrap(), CSS);
    assert!(body.len() + CSS.len() < 30 * 1024);
}

async fn mails_name_the_product_and_the_support_contact(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_branded(backend, &dir).await;
    app.create_account("alice@example.com", Some(PASSWORD), false)
        .await;
    let token = app.reset_token("alice@example.com").await;
    let reset = app.wait_for_mails("alice@example.com", 1).await.remove(0);
    assert!(
        reset.body.contains("your Acme <Accounts> & Co account"),
        "{}",
        reset.body
    );
    assert_eq!(
        app.confirm(&token, "a brand new passphrase of mine", None)
            .await
            .status(),
        200
    );
    let changed = app.wait_for_mails("alice@example.com", 2).await.remove(1);
    assert!(
        changed
            .body
            .contains("If this was not you, also contact support: https://help.acme.test/?q=reset&lang=1"),
        "{}",
        changed.body
    );
}

/// The real binary refuses to start on a brand stylesheet it cannot use, and says which setting.
#[test]
fn a_missing_or_oversized_stylesheet_stops_the_start_with_exit_64() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.css");
    std::fs::write(&big, "a{}".repeat(6000)).unwrap();
    let missing = dir.path().join("missing.css");
    for (path, expected) in [(&missing, "cannot read"), (&big, "at most 16384")] {
        let out = resetgate()
            .args(["demo"])
            .env("RESETGATE_LISTEN", "127.0.0.1:0")
            .env("RESETGATE_OPS_LISTEN", "127.0.0.1:0")
            .env("RESETGATE_BRAND_STYLESHEET", path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(64), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("RESETGATE_BRAND_STYLESHEET"), "{err}");
        assert!(err.contains(expected), "{err}");
    }
    for (var, value, expected) in [
        ("RESETGATE_DEFAULT_LOCALE", "de", "en, fr"),
        ("RESETGATE_SUPPORT_CONTACT", "http://help.example.com", "https"),
        ("RESETGATE_PRODUCT_NAME", "two\nlines", "one line"),
    ] {
        let out = resetgate().args(["demo"]).env(var, value).output().unwrap();
        assert_eq!(out.status.code(), Some(64), "{var}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(var) && err.contains(expected), "{var}: {err}");
    }
}

/// The binary serves a configured stylesheet end to end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_the_configured_stylesheet() {
    let dir = tempfile::tempdir().unwrap();
    let css = dir.path().join("brand.css");
    std::fs::write(&css, CSS).unwrap();
    let mut cmd = resetgate();
    cmd.args(["demo"])
        .env("RESETGATE_BRAND_STYLESHEET", &css)
        .env("RESETGATE_PRODUCT_NAME", "Acme");
    let gateway = GatewayChild::start(cmd).await;
    let client = reqwest::Client::new();
    let body = client
        .get(format!("{}/forgot", gateway.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("Reset your password – Acme</title>"), "{body}");
    let at = body.find("assets/brand.css?v=").expect("linked");
    let href = &body[at..];
    let href = &href[..href.find('"').unwrap()];
    let resp = client
        .get(format!("{}/{href}", gateway.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), CSS);
    gateway.stop(Duration::from_secs(10)).await;
}
