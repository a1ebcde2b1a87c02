//! Every page state, in English and in French (`Accept-Language`), as the gateway sends it, and
//! the stylesheet, through the Nu Html Checker (vnu.jar, the W3C's validator) in one run: zero
//! errors. One deliberately broken document goes with them, so the run is proven to check.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use super::site::{Site, ALICE, BAD_ADDRESS, COMMON_PASSWORD, NEW_PASSWORD};
use super::states::{BEA, STATES};
use super::tools;
use crate::account_pages::secret_on;
use crate::helpers::PASSWORD;

const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
const VNU_TIMEOUT: Duration = Duration::from_secs(120);

/// A browser's requests to one site, in one language.
struct Client<'a> {
    site: &'a Site,
    lang: &'a str,
    http: reqwest::Client,
}

impl Client<'_> {
    fn origin(&self) -> &str {
        self.site.base.trim_end_matches('/')
    }

    async fn get(&self, url: &str) -> (u16, String) {
        self.get_signed_in(url, None).await
    }

    async fn get_signed_in(&self, url: &str, cookie: Option<&str>) -> (u16, String) {
        let mut req = self
            .http
            .get(url)
            .header("accept", BROWSER_ACCEPT)
            .header("accept-language", self.lang);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        let resp = req.send().await.expect("GET");
        (resp.status().as_u16(), resp.text().await.expect("body"))
    }

    async fn post(&self, path: &str, origin: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let resp = self.post_signed_in(path, origin, fields, None).await;
        (resp.status().as_u16(), resp.text().await.expect("body"))
    }

    async fn post_signed_in(
        &self,
        path: &str,
        origin: &str,
        fields: &[(&str, &str)],
        cookie: Option<&str>,
    ) -> reqwest::Response {
        let mut req = self
            .http
            .post(self.site.url(path))
            .header("accept", BROWSER_ACCEPT)
            .header("accept-language", self.lang)
            .header("origin", origin)
            .form(fields);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        req.send().await.expect("POST")
    }

    /// Signs in on the page; returns the session cookie (`name=value`) the `303` set.
    async fn sign_in(&self, email: &str, password: &str) -> String {
        let resp = self
            .post_signed_in(
                "sign-in",
                self.origin(),
                &[("email", email), ("password", password)],
                None,
            )
            .await;
        assert_eq!(resp.status(), 303, "signed in");
        let set = resp.headers()["set-cookie"].to_str().expect("ascii");
        set.split(';').next().expect("name=value").to_owned()
    }
}

fn hidden_token(page: &str) -> String {
    let key = "name=\"token\" value=\"";
    let at = page.find(key).expect("the form carries the token") + key.len();
    page[at..at + 43].to_owned()
}

/// Every state's page in `lang`, by name, with the status it came with.
async fn pages(lang: &str) -> Vec<(&'static str, u16, String)> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        // A signed-in page is fetched with the cookie the sign-in's 303 set, as a browser does.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let site = Site::start().await;
    let c = Client {
        site: &site,
        lang,
        http: http.clone(),
    };
    let origin = c.origin().to_owned();
    let mut out = Vec::new();
    let (s, p) = c.get(&site.url("forgot")).await;
    out.push(("forgot", s, p));
    let (s, p) = c.post("forgot", &origin, &[("email", BAD_ADDRESS)]).await;
    out.push(("forgot-invalid", s, p));
    let (s, p) = c.post("forgot", &origin, &[("email", ALICE)]).await;
    out.push(("sent", s, p));
    let link = site.reset_link(1).await;
    let (s, form) = c.get(&link).await;
    let token = hidden_token(&form);
    out.push(("reset-form", s, form));
    let (s, p) = c
        .post(
            "reset",
            &origin,
            &[("token", &token), ("new_password", COMMON_PASSWORD)],
        )
        .await;
    out.push(("reset-refused", s, p));
    let (s, p) = c
        .post(
            "reset",
            &origin,
            &[
                ("token", &token),
                ("new_password", NEW_PASSWORD),
                ("sign_out_everywhere", "yes"),
            ],
        )
        .await;
    out.push(("reset-done", s, p));
    let (s, p) = c.get(&link).await;
    out.push(("reset-expired", s, p));
    let (s, p) = c
        .post("forgot", "https://evil.example", &[("email", ALICE)])
        .await;
    out.push(("forbidden", s, p));
    account_pages(&c, &mut out).await;

    let queueing = Site::queueing().await;
    let busy = queueing.occupy_the_worker().await;
    let c = Client {
        site: &queueing,
        lang,
        http: http.clone(),
    };
    let (s, p) = c
        .post("sign-in", c.origin(), &[("email", ALICE), ("password", PASSWORD)])
        .await;
    out.push(("in-line", s, p));
    busy.abort();

    let limiting = Site::limiting().await;
    let c = Client {
        site: &limiting,
        lang,
        http: http.clone(),
    };
    c.get(&limiting.url("forgot")).await;
    let (s, p) = c.get(&limiting.url("forgot")).await;
    out.push(("limited", s, p));

    let shedding = Site::shedding().await;
    let held = shedding.hold_the_only_slot().await;
    let c = Client {
        site: &shedding,
        lang,
        http,
    };
    let (s, p) = c.get(&shedding.url("forgot")).await;
    out.push(("busy", s, p));
    drop(held);
    out
}

/// Sign in, enrolment, recovery codes, the code step; then, after a campaign that requires
/// two-step verification, the done page and the enrolment page that say so.
async fn account_pages(c: &Client<'_>, out: &mut Vec<(&'static str, u16, String)>) {
    let site = c.site;
    let origin = c.origin().to_owned();
    let (s, p) = c.get(&site.url("sign-in")).await;
    out.push(("sign-in", s, p));
    let cookie = c.sign_in(ALICE, NEW_PASSWORD).await;
    let (s, p) = c.get_signed_in(&site.url("two-step"), Some(&cookie)).await;
    let secret = secret_on(&p);
    out.push(("two-step", s, p));
    let code = site.app.code_now(&secret);
    let on = c
        .post_signed_in("two-step", &origin, &[("code", &code)], Some(&cookie))
        .await;
    out.push((
        "two-step-on",
        on.status().as_u16(),
        on.text().await.expect("body"),
    ));
    let out_page = c.post_signed_in("sign-out", &origin, &[], Some(&cookie)).await;
    out.push((
        "signed-out",
        out_page.status().as_u16(),
        out_page.text().await.expect("body"),
    ));
    site.app.clock.advance(chrono::Duration::seconds(30));
    let (s, p) = c
        .post(
            "sign-in",
            &origin,
            &[("email", ALICE), ("password", NEW_PASSWORD)],
        )
        .await;
    out.push(("sign-in-code", s, p));

    site.require_two_step_of(BEA).await;
    c.post("forgot", &origin, &[("email", BEA)]).await;
    let (_, form) = c.get(&site.reset_link_to(BEA).await).await;
    let token = hidden_token(&form);
    let (s, p) = c
        .post(
            "reset",
            &origin,
            &[("token", &token), ("new_password", NEW_PASSWORD)],
        )
        .await;
    out.push(("reset-done-required", s, p));
    let cookie = c.sign_in(BEA, NEW_PASSWORD).await;
    let (s, p) = c.get_signed_in(&site.url("two-step"), Some(&cookie)).await;
    out.push(("two-step-required", s, p));
}

/// The checker's messages for `files` (HTML, and CSS by extension), as JSON objects.
pub(super) fn vnu(files: &[PathBuf]) -> Vec<Value> {
    let mut child = std::process::Command::new(tools::java())
        .arg("-jar")
        .arg(tools::vnu_jar())
        .args([
            "--errors-only",
            "--also-check-css",
            "--format",
            "json",
            "--stdout",
        ])
        .args(files)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run java -jar vnu.jar ({e}); {}", tools::BROKEN));
    let deadline = std::time::Instant::now() + VNU_TIMEOUT;
    while child.try_wait().expect("wait for vnu").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("vnu.jar did not finish within {VNU_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("vnu output");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "vnu.jar printed no JSON report ({e}); {}\nstdout: {}\nstderr: {}",
            tools::BROKEN,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    report["messages"].as_array().cloned().unwrap_or_default()
}

pub(super) fn file_of(message: &Value) -> String {
    let url = message["url"].as_str().unwrap_or("?");
    Path::new(url)
        .file_name()
        .map_or_else(|| url.to_owned(), |n| n.to_string_lossy().into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_state_in_both_languages_is_valid_html() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files = Vec::new();
    for lang in ["en", "fr"] {
        let pages = Box::pin(pages(lang)).await;
        let mut names: Vec<_> = pages.iter().map(|(name, ..)| *name).collect();
        let mut expected: Vec<_> = STATES.iter().map(|(name, ..)| *name).collect();
        names.sort_unstable();
        expected.sort_unstable();
        assert_eq!(names, expected, "every state is validated");
        for (name, status, html) in pages {
            let want = match name {
                "forgot-invalid" => 400,
                "reset-refused" => 422,
                "forbidden" => 403,
                "limited" => 429,
                "busy" | "in-line" => 503,
                _ => 200,
            };
            assert_eq!(status, want, "{lang} {name}:\n{html}");
            let path = dir.path().join(format!("{lang}-{name}.html"));
            std::fs::write(&path, html).expect("write page");
            files.push(path);
        }
    }
    files.push(PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/style.css"
    )));
    let broken = dir.path().join("broken.html");
    std::fs::write(&broken, "<!doctype html><html><p>no title, no lang<p></div>").expect("write");
    files.push(broken);

    let messages = tokio::task::spawn_blocking(move || vnu(&files))
        .await
        .expect("vnu thread");
    assert!(
        messages.iter().any(|m| file_of(m) == "broken.html"),
        "the checker found nothing wrong with a broken page: {messages:?}"
    );
    let errors: Vec<String> = messages
        .iter()
        .filter(|m| file_of(m) != "broken.html")
        .map(|m| {
            format!(
                "{} line {}: {} ({})",
                file_of(m),
                m["lastLine"],
                m["message"].as_str().unwrap_or("?"),
                m["extract"].as_str().unwrap_or("").trim()
            )
        })
        .collect();
    assert!(
        errors.is_empty(),
        "{} HTML/CSS error(s):\n{}",
        errors.len(),
        errors.join("\n")
    );
}
